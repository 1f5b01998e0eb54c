"""Murmur's desktop window (PySide6). Start it with :func:`app.gui.app.run_gui`.

Nothing in this package imports torch or transformers at module level: the
window opens first and the worker thread loads the model in the background.
"""

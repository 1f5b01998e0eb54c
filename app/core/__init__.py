"""Qt-free core of Murmur: media, speech detection, engine, transcript, export.

Nothing in this package may import PySide6. torch and transformers are imported
lazily, inside the functions that need them, so that importing the core is cheap.
"""

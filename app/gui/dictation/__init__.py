"""Dictation: live in the window, and into any application (shortcut, tray, output)."""

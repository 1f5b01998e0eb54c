"""Entry script for the frozen build (PyInstaller needs a file, not a module)."""

import sys

from app.__main__ import main

if __name__ == "__main__":
    sys.exit(main())

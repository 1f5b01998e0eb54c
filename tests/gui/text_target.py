"""'Another application' for the dictation test: one text field whose text is written to
a file on every change. ``python tests/gui/text_target.py OUT.txt`` prints its X window id
once shown."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication, QPlainTextEdit


def main(out: str) -> int:
    app = QApplication([sys.argv[0]])
    edit = QPlainTextEdit()
    edit.setWindowTitle("Dictation target")
    edit.resize(640, 240)
    target = Path(out)
    edit.textChanged.connect(lambda: target.write_text(edit.toPlainText(), encoding="utf-8"))
    edit.show()
    app.processEvents()
    print(int(edit.winId()), flush=True)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

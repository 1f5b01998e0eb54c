"""QApplication setup and the GUI entry point."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from app import APP_NAME, __version__


def create_application(argv: Sequence[str] | None = None) -> QApplication:
    """The QApplication with Murmur's name, icon and theme (reused if one exists)."""
    from app.gui.theme import app_icon, apply_theme

    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        app = existing
    else:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
        )
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    QCoreApplication.setApplicationName(APP_NAME)
    QCoreApplication.setOrganizationName(APP_NAME)
    QCoreApplication.setApplicationVersion(__version__)
    QGuiApplication.setDesktopFileName("murmur")
    app.setWindowIcon(app_icon())
    apply_theme(app)
    # Follow the system when it switches between light and dark.
    QGuiApplication.styleHints().colorSchemeChanged.connect(lambda _scheme: apply_theme(app))
    return app


def run_gui(
    files: Sequence[str] | None = None, model: str | None = None, device: str | None = None
) -> int:
    """Open the main window with ``files`` queued; returns the exit code.

    When a Murmur window already runs for this user, the files are handed to it
    (through :mod:`app.gui.single_instance`) and this returns 0 at once."""
    from app.core.instance import hand_over_files

    if hand_over_files([str(f) for f in files or []]):
        return 0
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from app.core.startup import setup_logging
    from app.gui.crash import install_crash_handler

    log_path = setup_logging()
    logging.getLogger(__name__).info("%s %s starting", APP_NAME, __version__)
    app = create_application()
    install_crash_handler(log_path, app)  # the hooks keep it, the app is its parent
    from app.gui.dictation.desktop import DesktopDictation
    from app.gui.main_window import MainWindow
    from app.gui.single_instance import InstanceServer

    window = MainWindow(model=model, device=device)
    server = InstanceServer(window)
    desktop = DesktopDictation(window, server)
    if not server.listen() and hand_over_files([str(f) for f in files or []]):
        window.service.shutdown()  # another window started at the same moment and won
        return 0
    window.show()
    desktop.start()
    if files:
        window.add_files([str(f) for f in files])
    return app.exec()

"""QApplication set-up, style, the last-resort exception dialog, and the main window."""

from __future__ import annotations

import ctypes
import os
import sys
import traceback
from collections.abc import Mapping

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QWidget

from core.resources import resource_path
from gui.dialogs import show_failure

ORGANIZATION = "SegLab"
APPLICATION = "SegLab"


def create_application(argv: list[str] | None = None) -> QApplication:
    """The one QApplication, with names for QSettings, the Fusion style and the app icon."""
    app = QApplication.instance()
    if app is None:
        QCoreApplication.setOrganizationName(ORGANIZATION)
        QCoreApplication.setApplicationName(APPLICATION)
        app = QApplication(argv if argv is not None else sys.argv[:1])
        app.setStyle("Fusion")
    app.setWindowIcon(QIcon(str(resource_path("icons", "seglab.svg"))))
    return app


def install_exception_dialog(parent: QWidget) -> None:
    """Any exception that reaches the event loop is shown in a dialog with details, never lost on stdout."""

    def hook(kind, value, tb):
        details = "".join(traceback.format_exception(kind, value, tb))
        sys.__stderr__.write(details)
        show_failure(parent, "SegLab: unexpected error",
                     f"Something went wrong: {value}\n\nYour annotations are autosaved. If this keeps "
                     "happening, send the details to the SegLab developers.", details)

    sys.excepthook = hook


def missing_platform_library(environ: Mapping[str, str] = os.environ) -> str | None:
    """What to install when Qt's X11 (xcb) plugin will not load: from Qt 6.5 it needs libxcb-cursor, which
    a fresh Linux desktop may lack, and Qt then aborts with a message about the xcb plugin. None when the
    library loads or the window will not use X11."""
    if not sys.platform.startswith("linux") or not environ.get("DISPLAY"):
        return None
    requested = environ.get("QT_QPA_PLATFORM", "")
    if not (requested.startswith("xcb") or (not requested and not environ.get("WAYLAND_DISPLAY"))):
        return None
    try:
        ctypes.CDLL("libxcb-cursor.so.0")
    except OSError:
        return ("SegLab: the window needs the system library libxcb-cursor0, which is missing; install it "
                "(Debian/Ubuntu: sudo apt-get install libxcb-cursor0; Fedora: sudo dnf install xcb-util-cursor) "
                "and start SegLab again.")
    return None


def run_gui(folder: str | None = None) -> int:
    hint = missing_platform_library()
    if hint:
        print(hint, file=sys.stderr)  # Qt's own message about the xcb plugin follows
    app = create_application()
    from gui.main_window import MainWindow

    window = MainWindow()
    install_exception_dialog(window)
    window.show()
    if folder:
        window.open_folder(folder)
    return app.exec()

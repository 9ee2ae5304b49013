"""The main window: docks, menus, toolbar and status bar, wired to AppState in one place. No business logic."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QToolBar,
)

from gui.browser.browser_widget import DatasetBrowserWidget
from gui.browser.problems_widget import ProblemsWidget
from gui.classes.class_panel import ClassPanelWidget
from gui.controllers.dataset_controller import DatasetController
from gui.empty_state import EmptyStateWidget
from gui.state import AppState
from gui.status_bar import MessageStatusBar
from gui.viewer.image_viewer import ImageViewerWidget
from gui.viewer.levels_widget import LevelsWidget
from gui.viewer.overlay_controls import OverlayControlsWidget
from gui.workers import TaskRunner

MAX_RECENT = 8


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None):
        super().__init__()
        self.setWindowTitle("SegLab")
        self.setAcceptDrops(True)
        self.settings = settings or QSettings()
        self.state = AppState(self)
        self.tasks = TaskRunner(2, self)
        self.datasets = DatasetController(self.state, self.tasks, self)

        self.empty_state = EmptyStateWidget()
        self.viewer = ImageViewerWidget(self.state)
        self.central = QStackedWidget()
        self.central.addWidget(self.empty_state)
        self.central.addWidget(self.viewer)
        self.setCentralWidget(self.central)

        self.browser = DatasetBrowserWidget(self.state)
        self.problems = ProblemsWidget(self.state)
        self.class_panel = ClassPanelWidget(self.state)
        self.overlay_controls = OverlayControlsWidget(self.state)
        self.levels = LevelsWidget(self.state)
        self.docks = {
            "browser": self._dock("Images", self.browser, Qt.DockWidgetArea.LeftDockWidgetArea),
            "classes": self._dock("Classes", self.class_panel, Qt.DockWidgetArea.RightDockWidgetArea),
            "overlay": self._dock("Overlay", self.overlay_controls, Qt.DockWidgetArea.RightDockWidgetArea),
            "levels": self._dock("Contrast", self.levels, Qt.DockWidgetArea.RightDockWidgetArea),
            "problems": self._dock("Problems", self.problems, Qt.DockWidgetArea.BottomDockWidgetArea),
        }
        self.setStatusBar(MessageStatusBar())  # messages keep left of the pixel read-out, never over it
        self.cursor_label = QLabel()
        self.statusBar().addPermanentWidget(self.cursor_label)
        self._build_actions()
        self._build_menus()
        self._install_segmentation()
        self._install_training()
        self._install_diagnostics()
        self._install_editor()
        self._install_label_next()
        self._install_improve_model()
        self._connect()
        self._restore_layout()
        self._update_empty_state()

    # construction -------------------------------------------------------------------------------
    def _dock(self, title: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcuts(shortcut if isinstance(shortcut, list) else [QKeySequence(shortcut)])
        action.setStatusTip(tip)
        action.setToolTip(f"{text} ({action.shortcut().toString()})" if shortcut is not None else text)
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        keys = QKeySequence.StandardKey
        self.open_action = self._action("&Open Folder…", self.choose_folder, keys.Open, "Open a folder of images")
        self.sample_action = self._action("Open &Sample Dataset", self.open_sample,
                                          tip="8 nuclei images (BBBC039, public domain), 6 with masks")
        self.quit_action = self._action("&Quit", self.close, keys.Quit)
        self.encoding_action = self._action("How Masks Are &Read…", self.edit_mask_encoding,
                                            tip="Set how this dataset's masks store classes (saved in seglab.json)")
        self.dataset_settings_action = self._action("&Dataset Settings…", self.edit_dataset_settings,
                                                    tip="Pixel size and the channel 1-channel models read "
                                                        "(saved in seglab.json)")
        self.zoom_in_action = self._action("Zoom &In", self.viewer.zoom_in, keys.ZoomIn)
        self.zoom_out_action = self._action("Zoom &Out", self.viewer.zoom_out, keys.ZoomOut)
        self.fit_action = self._action("&Fit to Window", self.viewer.fit, "Ctrl+0")
        self.actual_size_action = self._action("&Actual Size (1:1)", self.viewer.actual_size, "Ctrl+1")
        self.next_action = self._action("&Next Image", self.browser.select_next, ["D", "Alt+Right"])
        self.previous_action = self._action("&Previous Image", self.browser.select_previous, ["A", "Alt+Left"])

    def _build_menus(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        file_menu.addAction(self.sample_action)
        file_menu.addSeparator()
        file_menu.addAction(self.encoding_action)
        file_menu.addAction(self.dataset_settings_action)
        self.file_menu = file_menu
        self.file_menu_end = file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        self.edit_menu = menu.addMenu("&Edit")
        view_menu = menu.addMenu("&View")
        for action in (self.zoom_in_action, self.zoom_out_action, self.fit_action, self.actual_size_action):
            view_menu.addAction(action)
        view_menu.addSeparator()
        view_menu.addAction(self.previous_action)
        view_menu.addAction(self.next_action)
        view_menu.addSeparator()
        panels = view_menu.addMenu("&Panels")
        for dock in self.docks.values():
            panels.addAction(dock.toggleViewAction())
        self.panels_menu = panels
        self.view_menu = view_menu
        self.model_menu = menu.addMenu("&Model")
        self.help_menu = menu.addMenu("&Help")
        self.help_menu.addAction(self._action("&About SegLab", self.show_about))

        toolbar = QToolBar("Main", self)
        toolbar.setObjectName("toolbar_main")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for action in (self.open_action, self.previous_action, self.next_action, self.fit_action,
                       self.zoom_in_action, self.zoom_out_action):
            toolbar.addAction(action)
        self.addToolBar(toolbar)
        self.toolbar = toolbar
        self._refresh_recent_menu()

    def _install_training(self) -> None:
        """The Training panel, its controller, and Model > Train Model… (Ctrl+T)."""
        from gui.training.controller import TrainingController

        self.training = TrainingController(self.state, self.tasks, self.settings, self)
        dock = self._dock("Training", self.training.dock_widget, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.docks["problems"], dock)
        dock.hide()  # shown when a run starts, or from View > Panels
        self.docks["training"] = dock

        def show_training_dock() -> None:
            dock.show()
            dock.raise_()
            if not dock.isFloating() and dock.height() < 330:  # room for the live plots
                self.resizeDocks([dock], [360], Qt.Orientation.Vertical)

        self.training.run_started.connect(show_training_dock)
        self.train_action = self._action("&Train Model…", self.training.open_wizard, "Ctrl+T",
                                         "Train or fine-tune a model on the labeled images")
        self.model_menu.addAction(self.train_action)
        self.panels_menu.addAction(dock.toggleViewAction())
        self.toolbar.addAction(self.train_action)

    def _install_segmentation(self) -> None:
        """Batch segmentation, export and evaluation: their controllers, progress lines, the Evaluation panel,
        Model > Segment Images… (Ctrl+Shift+S) / Evaluate Against Ground Truth… and File > Export… (Ctrl+E)."""
        from gui.export.export_controller import ExportController
        from gui.report.report_controller import ReportController
        from gui.segment.segment_controller import SegmentationController

        self.segmentation = SegmentationController(self.state, self.settings, self)
        self.exports = ExportController(self.state, self.settings, self)
        self.evaluation = ReportController(self.state, self.settings, self)
        self.jobs = (self.segmentation, self.evaluation, self.exports)  # JobControllers, stopped on close
        dock = self._dock("Evaluation", self.evaluation.widget, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.docks["problems"], dock)
        dock.hide()
        self.docks["evaluation"] = dock

        def show_evaluation_dock() -> None:
            dock.show()
            dock.raise_()
            if not dock.isFloating() and dock.height() < 260:  # room for the tables
                self.resizeDocks([dock], [300], Qt.Orientation.Vertical)

        self.evaluation.results_shown.connect(show_evaluation_dock)
        for job in (self.segmentation, self.evaluation):  # an export shows its progress in its dialog
            self.statusBar().addPermanentWidget(job.progress_widget)
        self.segment_action = self._action("&Segment Images…", self.segmentation.open_dialog, "Ctrl+Shift+S",
                                           "Run a model on the images of the folder")
        self.evaluate_action = self._action("&Evaluate Against Ground Truth…", self.evaluation.open_dialog,
                                            tip="Score a model on the labelled images and write a report")
        self.export_action = self._action("&Export…", self.exports.open_dialog, "Ctrl+E",
                                          "Export masks, polygons and measurements")
        self.bioimageio_action = self._action("Export for &BioImage.IO…", self.export_bioimageio,
                                              tip="Write the model as a BioImage.IO package for Fiji, QuPath, "
                                                  "ilastik and the Model Zoo")
        self.model_menu.addAction(self.segment_action)
        self.model_menu.addAction(self.evaluate_action)
        self.model_menu.addAction(self.bioimageio_action)
        self.model_menu.addSeparator()
        self.panels_menu.addAction(dock.toggleViewAction())
        self.file_menu.insertAction(self.file_menu_end, self.export_action)

    def export_bioimageio(self):
        """Model > Export for BioImage.IO…: the model last trained or chosen in Segment, else one to choose."""
        from gui.bioimageio_export_dialog import BioimageioExportDialog
        from gui.model_field import chosen_model_file

        model = chosen_model_file(self.state.model_path, str(self.settings.value("segment/model", "") or ""))
        dialog = BioimageioExportDialog(model, self.settings, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.exported.connect(lambda path: self.state.message.emit(f"BioImage.IO package written: {path}"))
        dialog.open()
        return dialog

    def _install_diagnostics(self) -> None:
        """The device in the status bar (found in the background at start-up) and Help > Run Self-Test…."""
        from gui.diagnostics.controller import DiagnosticsController

        self.diagnostics = DiagnosticsController(self.tasks, self)
        self.statusBar().addPermanentWidget(self.diagnostics.device_label)
        self.self_test_action = self._action("Run &Self-Test…", self.diagnostics.show_self_test,
                                             tip="Check the installation and the device, with a timed pass")
        about = self.help_menu.actions()[0] if self.help_menu.actions() else None
        self.help_menu.insertAction(about, self.self_test_action)

    def _install_editor(self) -> None:
        """The mask editor (gui/editor/): tools with their tool bar, Edit menu, Save Mask (Ctrl+S), labelme
        import/export, the undo history panel; unsaved edits are asked about before the folder closes, and
        the status bar says when they are saved automatically."""
        from PySide6.QtWidgets import QUndoView

        from gui.editor.editor_actions import EditorActions
        from gui.editor.editor_controller import EditorController
        from gui.editor.tool_bar import EditorToolBar

        self.editor = EditorController(self.state, self.viewer.canvas, self.tasks, self.settings, self)
        self.datasets.leave_guard = self.editor.confirm_close_folder
        self.autosave_label = QLabel("Masks save automatically")
        self.autosave_label.setToolTip("Edit > Save Edits Automatically is on: edits are saved when you go to "
                                       "another image or close the folder")
        self.statusBar().addPermanentWidget(self.autosave_label)
        self.editor.options_changed.connect(lambda: self.autosave_label.setVisible(self.editor.save_on_leave))
        self.autosave_label.setVisible(self.editor.save_on_leave)
        actions = self.editor_actions = EditorActions(self.editor, self)
        self.addActions(actions.window_shortcuts)
        for action in (actions.save, actions.import_labelme, actions.export_labelme):
            self.file_menu.insertAction(self.encoding_action, action)
        self.file_menu.insertSeparator(self.encoding_action)
        actions.fill_edit_menu(self.edit_menu)
        self.editor_toolbar = EditorToolBar(actions, self.editor, self)
        self.addToolBarBreak()
        self.addToolBar(self.editor_toolbar)
        history = QUndoView(self.editor.group)
        history.setEmptyLabel("Opened (saved)")
        self.docks["history"] = self._dock("History", history, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.docks["levels"], self.docks["history"])
        self.docks["levels"].raise_()
        self.panels_menu.addAction(self.docks["history"].toggleViewAction())

    def _install_label_next(self) -> None:
        """Edit > Label Next (N, also on the tool bar): the next image worth labeling, its unsure region framed."""
        from gui.label_next_actions import LabelNextActions

        self.label_next = LabelNextActions(self.state, self.tasks, self.viewer.canvas, self)
        self.edit_menu.addAction(self.label_next.action)
        self.toolbar.addAction(self.label_next.action)

    def _install_improve_model(self) -> None:
        """Model > Improve Model… (also beside Label Next and in the Training panel): fine-tune the current model
        for a few minutes, segment the unlabeled images again, and show what changed."""
        from gui.training.improve_model import ImproveModelController

        self.improve = ImproveModelController(self.state, self.training, self.segmentation, self.settings, self)
        self.model_menu.addAction(self.improve.action)  # after Train Model…
        self.toolbar.addAction(self.improve.action)
        self.training.dock_widget.add_action(self.improve.action)

    def _connect(self) -> None:
        self.empty_state.open_requested.connect(self.choose_folder)
        self.empty_state.sample_requested.connect(self.open_sample)
        self.empty_state.recent_chosen.connect(self.open_folder)
        self.state.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.state.dataset_changed.connect(self._update_empty_state)
        self.state.dataset_changed.connect(self._update_title)
        self.state.dataset_changed.connect(self._remember_open_folder)
        self.viewer.cursor_info.connect(self.cursor_label.setText)
        self.datasets.scan_failed.connect(self._on_datasets_scan_failed)
        self.problems.encoding_requested.connect(self.edit_mask_encoding)

    # folders ------------------------------------------------------------------------------------
    def choose_folder(self) -> None:
        start = self._recent_folders()[0] if self._recent_folders() else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of images", start)
        self.activateWindow()  # the keyboard comes back at once, also where no window manager gives it back
        if folder:
            self.open_folder(folder)

    def open_sample(self) -> None:
        """Open the sample dataset; the starter model segments its images in the background."""
        from core.data.workspace import sample_dataset
        from gui.model_field import starter_model_path

        try:
            folder = sample_dataset()
        except OSError as exc:
            QMessageBox.warning(self, "Cannot open the sample", f"The sample dataset could not be copied to your "
                                f"data folder: {exc}")
            return
        starter = starter_model_path()
        if starter:
            self.segmentation.segment_when_opened(folder, starter)
        self.open_folder(str(folder))

    def open_folder(self, folder: str) -> None:
        if not Path(folder).is_dir():
            QMessageBox.warning(self, "Folder not found", f"{folder}\n\nThis folder does not exist (any more).")
            self._forget_recent(folder)
            return
        self.datasets.open_folder(folder)  # a folder that opens is added to Open Recent

    def edit_mask_encoding(self) -> None:
        from gui.mask_encoding_dialog import MaskEncodingDialog

        index = self.state.index
        if index is None:
            QMessageBox.information(self, "No folder open", "Open a folder first.")
            return
        current = index.sample(self.state.current_name) if self.state.current_name else None
        sample_mask = current.mask if current is not None else next((s.mask for s in index.labeled if s.mask), None)
        dialog = MaskEncodingDialog(index.settings.encoding, self.state.classes, sample_mask, self)
        if dialog.exec():
            self.datasets.set_mask_encoding(dialog.encoding())

    def edit_dataset_settings(self):
        """File > Dataset Settings…: pixel size and channel, saved in seglab.json; the folder is read again."""
        from gui.dataset_settings_dialog import DatasetSettingsDialog

        index = self.state.index
        if index is None:
            QMessageBox.information(self, "No folder open", "Open a folder first.")
            return None
        sample = index.sample(self.state.current_name) if self.state.current_name else index.samples[0]
        metadata = sample.metadata.pixel_size_um if sample.metadata is not None else None
        dialog = DatasetSettingsDialog(index.settings.pixel_size_um, metadata[1] if metadata else None,
                                       index.settings.channel, index.channel_names, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.datasets.update_settings(pixel_size_um=dialog.pixel_size_um(),
                                                                      channel=dialog.channel()))
        dialog.open()
        return dialog

    def _on_datasets_scan_failed(self, message: str) -> None:
        QMessageBox.warning(self, "Cannot open this folder", message)

    def _recent_folders(self) -> list[str]:
        value = self.settings.value("recent_folders", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _remember_open_folder(self) -> None:
        if self.state.index is not None:
            self._remember_recent(str(Path(self.state.index.root).resolve()))

    def _remember_recent(self, folder: str) -> None:
        folders = [folder] + [f for f in self._recent_folders() if f != folder]
        self.settings.setValue("recent_folders", folders[:MAX_RECENT])
        self._refresh_recent_menu()

    def _forget_recent(self, folder: str) -> None:
        self.settings.setValue("recent_folders", [f for f in self._recent_folders() if f != folder])
        self._refresh_recent_menu()

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        folders = self._recent_folders()
        for folder in folders:
            self.recent_menu.addAction(folder, lambda f=folder: self.open_folder(f))
        self.recent_menu.setEnabled(bool(folders))
        self.empty_state.set_recent(folders)

    def _update_empty_state(self) -> None:
        self.central.setCurrentWidget(self.viewer if self.state.index is not None else self.empty_state)

    def _update_title(self) -> None:
        index = self.state.index
        self.setWindowTitle(f"{Path(index.root).name} — SegLab" if index is not None else "SegLab")

    # drag and drop ------------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile() and Path(urls[0].toLocalFile()).is_dir():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        self.open_folder(event.mimeData().urls()[0].toLocalFile())

    # layout and closing -------------------------------------------------------------------------
    def _restore_layout(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 900)
            QTimer.singleShot(0, self, self._default_dock_sizes)
        layout = self.settings.value("window/state")
        if layout is not None:
            self.restoreState(layout)

    def _default_dock_sizes(self) -> None:
        self.resizeDocks([self.docks["problems"]], [110], Qt.Orientation.Vertical)
        self.resizeDocks([self.docks["browser"]], [300], Qt.Orientation.Horizontal)

    def show_about(self) -> None:
        from core import __version__

        QMessageBox.about(self, "About SegLab",
                          f"<b>SegLab {__version__}</b><br>Segment micrographs: label, train, predict, export. "
                          "Runs offline on this computer.")

    def closeEvent(self, event) -> None:
        if not self.editor.confirm_close():  # unsaved edits: the user chose to stay
            event.ignore()
            return
        if not self.training.confirm_close(self):  # a training run: stopped (its best model kept), or stay
            return event.ignore()
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        for part in (self.training, self.improve, *self.jobs, self.tasks, self.levels, self.browser):
            part.shutdown()  # stop and wait for background work (a training run keeps its checkpoint)
        super().closeEvent(event)

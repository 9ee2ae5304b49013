"""The editor's actions with their shortcuts, for the window's menus and tool bar.

Undo Ctrl+Z, Redo Ctrl+Shift+Z / Ctrl+Y, Save Mask Ctrl+S; tools V navigate, P polygon, B brush,
E eraser, U unlabel, F fill, I pick class (Esc in the canvas goes back to navigating); Shift+U marks the
rest (background) unlabeled; 1-9 choose the class; [ and ] (or Ctrl+wheel) change the brush size.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QWidget

from gui.editor.labelme_actions import LabelmeActions
from gui.editor.prediction_actions import PredictionActions
from gui.editor.revert_dialog import RevertMaskDialog

TOOLS = (  # name, text, shortcut, tip
    ("navigate", "&Navigate", "V", "Pan and zoom; no editing (Esc in the image)"),
    ("polygon", "&Polygon", "P", "Click corners; click the first one, double-click or Enter to close. "
     "Drag corners or outlines to reshape; Ctrl+click an edge adds a corner, right-click one removes it"),
    ("brush", "&Brush", "B", "Paint the current class; [ and ] or Ctrl+wheel change the size"),
    ("eraser", "&Eraser", "E", "Paint background; [ and ] or Ctrl+wheel change the size"),
    ("unlabel", "&Unlabel", "U", "Mark pixels unlabeled (drawn hatched): training and scores leave them out; "
     "[ and ] or Ctrl+wheel change the size"),
    ("fill", "&Fill", "F", "Fill the connected region under the pointer with the current class"),
    ("picker", "P&ick Class", "I", "Make the class under the pointer the current class"),
    ("grabcut", "&GrabCut Box", "G", "Drag a box around an object; then click missed parts (left) or wrong ones "
     "(right)"),
    ("scissors", "&Scissors", "S", "Click around an object; the outline follows its edges. Click the first point, "
     "double-click or Enter to close"),
    ("wand", "Magic &Wand", "W", "Click an object (drag for more tolerance; right button erases; Shift+click a "
     "wrong pixel to adjust)"),
)


class EditorActions(QObject):
    def __init__(self, controller, parent: QWidget):
        super().__init__(parent)
        self.controller = controller
        self.predictions = PredictionActions(controller)
        self.labelme = LabelmeActions(controller)
        self.undo = controller.group.createUndoAction(parent, "&Undo")
        self.undo.setShortcuts([QKeySequence("Ctrl+Z")])
        self.redo = controller.group.createRedoAction(parent, "&Redo")
        self.redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.save = self._action("&Save Mask", controller.save, "Ctrl+S",
                                 "Save the mask of this image in the dataset's own format")
        self.import_labelme = self._action("&Import labelme File…", lambda: self.labelme.import_file(),
                                           tip="Replace this image's mask by a labelme file's shapes")
        self.export_labelme = self._action("E&xport as labelme File…", lambda: self.labelme.export_file(),
                                           tip="Write this image's mask as labelme polygons")
        self.revert_mask = self._action("Re&vert Mask…", self._show_revert_dialog,
                                        tip="Go back to a mask this image had before one of its saves")
        self.tool_group = QActionGroup(self)
        self.tools: dict[str, QAction] = {}
        for name, text, key, tip in TOOLS:
            action = self._action(text, lambda _=False, n=name: controller.set_tool(n), key, tip)
            action.setCheckable(True)
            self.tool_group.addAction(action)
            self.tools[name] = action
        self.tools[controller.tool_name].setChecked(True)
        self.smaller = self._action("Smaller Brush", lambda: controller.step_brush_size(-1), "[")
        self.bigger = self._action("Bigger Brush", lambda: controller.step_brush_size(1), "]")
        self.class_keys = [self._action(f"Class {n}", lambda _=False, n=n: controller.select_class(n), str(n))
                           for n in range(1, 10)]
        self.mark_rest_unlabeled = self._action(
            "&Mark Rest as Unlabeled", controller.mark_rest_unlabeled, "Shift+U",
            "Make every background pixel of this image unlabeled, so only what you labeled is trained on")
        self.protect = self._action("Protect Other &Classes", controller.set_protect,
                                    tip="Paint only background; erase only the current class")
        self.protect.setCheckable(True)
        self.save_on_leave = self._action("Save Edits &Automatically", controller.set_save_on_leave,
                                          tip="On: edits are saved when you go to another image or close the "
                                              "folder (the status bar says so). Off: nothing is saved until you "
                                              "save; closing asks.")
        self.save_on_leave.setCheckable(True)
        self.accept_prediction = self._action("&Accept Prediction", self.predictions.accept,
                                              tip="Make the prediction this image's mask")
        self.accept_class = self._action("Accept Prediction for Current Cla&ss", self.predictions.accept_current_class,
                                         tip="Pixels predicted as the current class take it")
        self.prediction_polygons = self._action("Prediction to &Polygons", self.predictions.to_polygons,
                                                tip="Turn the predicted regions into polygons you can correct")
        controller.tool_changed.connect(lambda name: self.tools[name].setChecked(True))
        controller.options_changed.connect(self._sync_options)
        controller.session_changed.connect(self._sync_enabled)
        controller.state.prediction_changed.connect(self._sync_enabled)
        self._sync_options()
        self._sync_enabled()

    @property
    def window_shortcuts(self) -> list[QAction]:
        """Actions that are in no menu but need their shortcuts anywhere in the window."""
        return [self.smaller, self.bigger, *self.class_keys]

    def fill_edit_menu(self, menu: QMenu) -> None:
        for group in ((self.undo, self.redo, self.revert_mask), (*self.tools.values(), self.mark_rest_unlabeled),
                      (self.protect, self.save_on_leave),
                      (self.accept_prediction, self.accept_class, self.prediction_polygons)):
            if menu.actions():
                menu.addSeparator()
            menu.addActions(list(group))

    def _action(self, text: str, slot, shortcut: str | None = None, tip: str = "") -> QAction:
        action = QAction(text, self.parent())
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip)
        action.setToolTip(f"{text.replace('&', '')} ({shortcut})" if shortcut else text.replace("&", ""))
        action.triggered.connect(slot)
        return action

    def _show_revert_dialog(self) -> None:
        if self.controller.session is not None and self.controller.state.index is not None:
            dialog = RevertMaskDialog(self.controller, self.controller.window)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.open()

    def _sync_options(self) -> None:
        self.protect.setChecked(self.controller.protect)
        self.save_on_leave.setChecked(self.controller.save_on_leave)

    def _sync_enabled(self, *_) -> None:
        session = self.controller.session
        for action in (self.save, self.import_labelme, self.export_labelme, self.revert_mask,
                       self.mark_rest_unlabeled):
            action.setEnabled(session is not None)
        predicted = session is not None and session.document.prediction is not None
        for action in (self.accept_prediction, self.accept_class, self.prediction_polygons):
            action.setEnabled(predicted)

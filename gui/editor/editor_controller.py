"""EditorController: the mask editor's one owner of editing state.

- Tools on the canvas (navigate, polygon, brush, eraser, fill, pick class), the brush size and the
  "protect other classes" option (both remembered in QSettings), the current class from 1-9.
- Undo: one QUndoStack per image in a QUndoGroup (the history panel shows the active one). Stacks of the
  last MAX_SESSIONS images are kept (their history and polygons, not their pixels): coming back to an
  image (its edits were saved when leaving it) its history is still there, as long as its annotation
  files were not changed since by another program.
- Leaving an image (another image, another folder, closing the window) with unsaved edits saves them
  (the default, what a technician expects: work is never lost and nobody is interrupted while flipping
  through images) or asks Save / Discard / Cancel, as set in Edit > Save Edits When Leaving an Image
  (QSettings editor/save_on_leave). When saving fails (read-only folder...) it explains, then asks.
- Saving (mask_saver.py) and the recovery files written every few seconds (recovery.py).
"""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QUndoGroup

from core.mask_painting import MaskPatch
from gui.canvas import ImageCanvas
from gui.editor import editor_dialogs as dialogs
from gui.editor.brush_tool import BrushTool
from gui.editor.commands import MaskEditCommand
from gui.editor.edit_session import EditSession
from gui.editor.fill_tool import FillTool
from gui.editor.mask_saver import MaskSaver
from gui.editor.picker_tool import PickerTool
from gui.editor.polygon_tool import PolygonTool
from gui.editor.recovery import RecoveryController
from gui.state import AppState, ImageDocument
from gui.workers import TaskRunner

TOOL_NAMES = ("navigate", "polygon", "brush", "eraser", "fill", "picker")
MAX_SESSIONS = 8
MIN_BRUSH, MAX_BRUSH, DEFAULT_BRUSH = 1, 401, 15
BRUSH_STEP = 1.25


class EditorController(QObject):
    tool_changed = Signal(str)
    options_changed = Signal()  # brush size, protect or the leaving policy
    session_changed = Signal()  # another image is edited (or none)

    def __init__(self, state: AppState, canvas: ImageCanvas, tasks: TaskRunner, settings: QSettings,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self.canvas = canvas
        self.settings = settings
        self.group = QUndoGroup(self)
        self.sessions: OrderedDict[str, EditSession] = OrderedDict()
        self.session: EditSession | None = None
        self.tools = {"navigate": None, "polygon": PolygonTool(self), "brush": BrushTool(self),
                      "eraser": BrushTool(self, erase=True), "fill": FillTool(self), "picker": PickerTool(self)}
        self.tool_name = "navigate"
        self._previous_tool = "navigate"
        self.brush_size = min(MAX_BRUSH, max(MIN_BRUSH, int(settings.value("editor/brush_size", DEFAULT_BRUSH))))
        self.protect = _as_bool(settings.value("editor/protect", False))
        self.saver = MaskSaver(self)
        self.recovery = RecoveryController(self, tasks)
        state.current_changed.connect(self._on_state_current_changed)
        state.dataset_changed.connect(self._on_state_dataset_changed)
        state.current_class_changed.connect(self._on_state_current_class_changed)
        state.classes_changed.connect(self._on_state_classes_changed)

    # options ------------------------------------------------------------------------------------
    @property
    def tool(self):
        return self.tools[self.tool_name]

    @property
    def current_class(self) -> int:
        return self.state.current_class

    @property
    def brush_radius(self) -> int:
        """The brush paints disks of this radius: (size - 1) // 2 pixels around the pointer's pixel."""
        return (self.brush_size - 1) // 2

    @property
    def save_on_leave(self) -> bool:
        return _as_bool(self.settings.value("editor/save_on_leave", True))

    def set_save_on_leave(self, on: bool) -> None:
        self.settings.setValue("editor/save_on_leave", bool(on))
        self.options_changed.emit()

    def paint_rule(self, erase: bool) -> tuple[int, int | None]:
        """(value painted, the only value it may replace or None) for the brush (or eraser) now."""
        current = self.current_class
        if erase:
            return 0, (current if self.protect else None)
        return current, (0 if self.protect else None)

    def set_tool(self, name: str) -> None:
        if name not in self.tools:
            raise ValueError(f"unknown tool {name!r}; choose one of {', '.join(TOOL_NAMES)}")
        if name != self.tool_name:
            self.commit_pending()
            self._previous_tool = self.tool_name
            self.tool_name = name
            self.canvas.set_tool(self.tool)
            self.tool_changed.emit(name)
        self.canvas.setFocus()

    def navigate(self) -> None:
        self.set_tool("navigate")

    def return_to_previous_tool(self) -> None:
        self.set_tool(self._previous_tool if self._previous_tool != "picker" else "navigate")

    def set_brush_size(self, size: int) -> None:
        size = min(MAX_BRUSH, max(MIN_BRUSH, int(size)))
        if size != self.brush_size:
            self.brush_size = size
            self.settings.setValue("editor/brush_size", size)
            for name in ("brush", "eraser"):
                self.tools[name].update_cursor()
            self.options_changed.emit()

    def step_brush_size(self, direction: int) -> None:
        """One step bigger (1) or smaller (-1): about 25 %, at least one pixel."""
        size = self.brush_size
        new = round(size * BRUSH_STEP) if direction > 0 else round(size / BRUSH_STEP)
        self.set_brush_size(max(new, size + 1) if direction > 0 else min(new, size - 1))

    def set_protect(self, on: bool) -> None:
        if bool(on) != self.protect:
            self.protect = bool(on)
            self.settings.setValue("editor/protect", self.protect)
            self.options_changed.emit()

    def select_class(self, number: int) -> None:
        """Number keys 1-9: make that class current (when the class table has it)."""
        if number < len(self.state.classes):
            self.state.set_current_class(number)
        else:
            self.message(f"There is no class {number}; add classes in the Classes panel")

    def message(self, text: str) -> None:
        self.state.message.emit(text)

    @property
    def window(self):
        return self.canvas.window()

    # edits --------------------------------------------------------------------------------------
    def push(self, text: str, patch: MaskPatch | None, shapes_before=None, shapes_after=None) -> None:
        """Record and apply one edit of the current image (nothing happens when nothing changed)."""
        if self.session is None or (patch is None and shapes_after is None):
            return
        self.session.stack.push(MaskEditCommand(self.session, text, patch, shapes_before, shapes_after))

    def commit_pending(self) -> None:
        """Finish work in progress (a brush stroke) so it becomes an undo step before leaving or saving."""
        for name in ("brush", "eraser"):
            self.tools[name].finish_stroke()

    # saving and leaving -------------------------------------------------------------------------
    def save(self) -> bool:
        return self.saver.save()

    def confirm_leave(self) -> bool:
        """Before the current image is replaced: save or ask, per the setting. False: stay on the image."""
        self.commit_pending()
        session = self.session
        if session is None or not session.dirty:
            return True
        if self.save_on_leave and self.saver.save():
            return True
        answer = dialogs.ask_unsaved_edits(self.window, session.name)  # also when saving failed (explained)
        if answer == "save":
            return self.saver.save()
        if answer == "discard":
            self.discard()
            return True
        return False

    def confirm_close(self) -> bool:
        if not self.confirm_leave():
            return False
        self.recovery.stop()
        return True

    def discard(self) -> None:
        """Let the current image's unsaved edits go: back to the saved mask, history and recovery file too."""
        session = self.session
        if session is None:
            return
        session.revert()
        self.recovery.forget(session.name)
        self.state.mark_edited(session.name, False)
        self._drop_session(session.name)
        self._bind(self.state.document)

    # sessions -----------------------------------------------------------------------------------
    def _bind(self, document: ImageDocument | None) -> None:
        tool = self.tool
        if tool is not None:
            tool.reset()
        if self.session is not None and self.session.document is not document:
            self.session.detach()
        session = None
        if document is not None:
            session = self.sessions.get(document.name)
            if session is not None and session.document is not document:
                if session.can_rebind(document):
                    session.rebind(document)
                else:
                    self._drop_session(document.name)
                    session = None
            if session is None:
                session = EditSession(self.state, document, self)
                session.shapes_changed.connect(self._on_session_shapes_changed)
                session.stack.cleanChanged.connect(lambda clean, s=session: self._on_session_clean_changed(s, clean))
                self.group.addStack(session.stack)
                self.sessions[document.name] = session
            self.sessions.move_to_end(document.name)
            while len(self.sessions) > MAX_SESSIONS:
                self._drop_session(next(iter(self.sessions)))
        self.session = session
        self.group.setActiveStack(session.stack if session is not None else None)
        self.tools["polygon"].refresh()
        self.recovery.document_shown(session)
        self.session_changed.emit()

    def _drop_session(self, name: str) -> None:
        session = self.sessions.pop(name, None)
        if session is not None:
            self.group.removeStack(session.stack)
            session.deleteLater()
            if session is self.session:
                self.session = None

    def _on_state_current_changed(self) -> None:
        document = self.state.document
        if self.session is not None and document is self.session.document:
            return  # the same image (a switch was refused)
        self._bind(document)

    def _on_state_dataset_changed(self) -> None:
        for name in list(self.sessions):
            self._drop_session(name)
        self._bind(None)
        self.recovery.dataset_opened(self.state.index)

    def _on_state_current_class_changed(self, class_index: int) -> None:
        if self.tool_name == "polygon":
            self.tools["polygon"].apply_class(class_index)

    def _on_state_classes_changed(self) -> None:
        self.tools["polygon"].refresh()

    def _on_session_clean_changed(self, session: EditSession, clean: bool) -> None:
        if clean:  # saved, or undone back to the saved mask: nothing to recover
            self.recovery.forget(session.name)

    def _on_session_shapes_changed(self) -> None:
        if self.sender() is self.session:
            self.tools["polygon"].refresh()


def _as_bool(value) -> bool:
    return value in (True, "true", "True", "1", 1)

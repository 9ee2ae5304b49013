"""EditorController: the mask editor. Each piece of editing state has one owner: the tool, brush size,
"protect other classes" and the saving choice are here (remembered in QSettings); the current class is
AppState's (1-9 choose it); an image's mask, history, polygons and whether it has unsaved edits are its
EditSession's.

- Tools on the canvas: navigate, polygon, brush, eraser, unlabel, fill, pick class; Mark Rest as Unlabeled.
- Unlabeled pixels (the ignore value, 255) are left out of training and scoring. "Protect other classes"
  treats them like background: painting may cover them, the unlabel eraser takes only background.
- Undo: one QUndoStack per image in a QUndoGroup (the history panel shows the active one).
- Leaving an image keeps its edits unsaved: in memory with their history, in a recovery file (recovery.py),
  and marked "edited" in the browser. Nothing is written until the user saves (Ctrl+S) or, when a folder
  closes (another folder, closing the window), answers Save All in the question that names the images.
  Edit > Save Edits Automatically (QSettings editor/autosave_masks, off by default; the status bar says so
  when on) saves when leaving an image and when the folder closes.
- Sessions without unsaved edits are kept for the last MAX_SESSIONS images (their history, not their
  pixels); sessions with unsaved edits are always kept (their mask, not their image), so nothing is lost.
- Saving: mask_saver.py.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QUndoGroup

from core.io.masks import ignore_index_for
from core.mask_painting import MaskPatch
from gui.canvas import ImageCanvas
from gui.editor import editor_dialogs as dialogs
from gui.editor.brush_tool import BrushTool
from gui.editor.commands import MaskEditCommand
from gui.editor.edit_session import EditSession
from gui.editor.fill_tool import FillTool
from gui.editor.grabcut_tool import GrabCutTool
from gui.editor.mask_saver import MaskSaver
from gui.editor.picker_tool import PickerTool
from gui.editor.polygon_tool import PolygonTool
from gui.editor.recovery import DEFAULT_AUTOSAVE_S, RecoveryController
from gui.editor.scissors_tool import ScissorsTool
from gui.editor.wand_tool import WandTool
from gui.state import AppState, ImageDocument
from gui.workers import TaskRunner

TOOL_NAMES = ("navigate", "polygon", "brush", "eraser", "unlabel", "fill", "picker", "grabcut", "scissors", "wand")
MAX_SESSIONS = 8  # kept without unsaved edits; those with unsaved edits are always kept
MIN_BRUSH, MAX_BRUSH, DEFAULT_BRUSH = 1, 401, 15
BRUSH_STEP = 1.25


class EditorController(QObject):
    tool_changed = Signal(str)
    options_changed = Signal()  # brush size, protect or automatic saving
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
                      "eraser": BrushTool(self, "eraser"), "unlabel": BrushTool(self, "unlabel"),
                      "fill": FillTool(self), "picker": PickerTool(self), "grabcut": GrabCutTool(self, tasks),
                      "scissors": ScissorsTool(self), "wand": WandTool(self)}
        self.tool_name = "navigate"
        self._previous_tool = "navigate"
        self.brush_size = min(MAX_BRUSH, max(MIN_BRUSH, int(settings.value("editor/brush_size", DEFAULT_BRUSH))))
        self.protect = _as_bool(settings.value("editor/protect", False))
        interval = float(settings.value("editor/autosave_seconds", DEFAULT_AUTOSAVE_S))
        self.recovery = RecoveryController(state, tasks, interval, canvas, self.edited_sessions, self)
        self.saver = MaskSaver(state, self.recovery, canvas, self)
        self.recovery.restore_chosen.connect(self._on_recovery_restore_chosen)
        state.image_requested.connect(self._on_state_image_requested)
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
        """Edit > Save Edits Automatically: save when leaving an image and when the folder closes."""
        return _as_bool(self.settings.value("editor/autosave_masks", False))

    def set_save_on_leave(self, on: bool) -> None:
        self.settings.setValue("editor/autosave_masks", bool(on))
        self.options_changed.emit()

    @property
    def unlabeled_value(self) -> int:
        """The mask value of unlabeled pixels (255; 65535 past 255 classes)."""
        return ignore_index_for(len(self.state.classes))

    def paint_rule(self, erase: bool = False, unlabel: bool = False) -> tuple[int, tuple[int, ...] | None]:
        """(value painted, the only values it may replace or None: any) for painting the current class, erasing
        to background or marking unlabeled. Protect other classes: painting covers background and unlabeled
        pixels, erasing only the current class, unlabeling only background."""
        current, unlabeled = self.current_class, self.unlabeled_value
        if erase:
            return 0, ((current,) if self.protect else None)
        if unlabel:
            return unlabeled, ((0,) if self.protect else None)
        return current, ((0, unlabeled) if self.protect else None)

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
            for tool in self._brushes():
                tool.update_cursor()
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
        for tool in self._brushes():
            tool.finish_stroke()

    def _brushes(self) -> list[BrushTool]:
        return [tool for tool in self.tools.values() if isinstance(tool, BrushTool)]

    def mark_rest_unlabeled(self) -> None:
        """Every background pixel of the current image becomes unlabeled (one undo step), so a technician can
        label a few objects and leave the rest out of training."""
        self.commit_pending()
        session = self.session
        if session is None:
            return
        mask, unlabeled = session.mask, self.unlabeled_value
        patch = MaskPatch.between((0, 0, *mask.shape), mask, np.where(mask == 0, mask.dtype.type(unlabeled), mask))
        if patch is None:
            self.message("No background pixels left to mark as unlabeled")
            return
        self.push("Mark rest as unlabeled", patch)

    # saving and leaving -------------------------------------------------------------------------
    def edited_sessions(self) -> list[EditSession]:
        return [session for session in self.sessions.values() if session.edited]

    def save(self) -> bool:
        """Save the current image (Ctrl+S)."""
        self.commit_pending()
        return self.session is not None and self.saver.save(self.session)

    def save_all(self) -> bool:
        """Save every image with unsaved edits (each failure explained); True when all are saved."""
        self.commit_pending()
        return all([self.saver.save(session) for session in self.edited_sessions()])

    def confirm_close_folder(self, leaving: str = "another folder opens") -> bool:
        """Before the folder closes (another folder, or the window): save automatically when chosen, else
        (or when saving failed) ask Save All / Discard / Cancel naming the images. False: keep it open."""
        self.commit_pending()
        if self.save_on_leave:
            self.save_all()
        unsaved = self.edited_sessions()
        if not unsaved:
            return True
        answer = dialogs.ask_unsaved_images(self.canvas, [session.name for session in unsaved], leaving)
        if answer == "save":
            return self.save_all()
        if answer == "discard":
            for session in unsaved:
                session.discard()
            return True
        return False

    def confirm_close(self) -> bool:
        """Before the window closes: as confirm_close_folder; then no more recovery files are written."""
        if not self.confirm_close_folder("SegLab closes"):
            return False
        self.recovery.stop()
        return True

    # sessions -----------------------------------------------------------------------------------
    def _bind(self, document: ImageDocument | None) -> None:
        self.commit_pending()
        tool = self.tool
        if tool is not None:
            tool.reset()
        if self.session is not None and self.session.document is not document:
            self.session.detach()
        session = None
        if document is not None:
            session = self.sessions.get(document.name)
            if session is not None and session.document is not document and not session.can_show(document):
                if session.edited:
                    self.message(f"{document.name} changed size on disk; its unsaved edits no longer fit and "
                                 "were let go")
                    session.discard()
                self._drop_session(document.name)
                session = None
            if session is None:
                session = self._add_session(document.name)
            if session.document is not document:
                session.show(document)
            self.sessions.move_to_end(document.name)
            self._drop_sessions_over_bound()
        self.session = session
        self.group.setActiveStack(session.stack if session is not None else None)
        self.tools["polygon"].refresh()
        if session is not None and session.restore_entry is not None:
            self._apply_restore(session)
        self.session_changed.emit()

    def _add_session(self, name: str, restore=None) -> EditSession:
        session = EditSession(self.state, name, restore, self)
        session.shapes_changed.connect(self._on_session_shapes_changed)
        session.edited_changed.connect(self.recovery.on_session_edited_changed)
        self.group.addStack(session.stack)
        self.sessions[name] = session
        return session

    def _drop_sessions_over_bound(self) -> None:
        """Forget the oldest sessions without unsaved edits beyond MAX_SESSIONS."""
        spare = [name for name, session in self.sessions.items()
                 if not session.edited and session is not self.session]
        for name in spare[:max(0, len(self.sessions) - MAX_SESSIONS)]:
            self._drop_session(name)

    def _drop_session(self, name: str) -> None:
        session = self.sessions.pop(name, None)
        if session is not None:
            self.group.removeStack(session.stack)
            session.deleteLater()
            if session is self.session:
                self.session = None

    def _apply_restore(self, session: EditSession) -> None:
        """Restored edits of the image just shown: one undoable step, unsaved."""
        patch = self.recovery.restore_patch(session)
        if patch is not None:
            self.push("Restore unsaved edits", patch)
            self.message(f"Restored the unsaved edits of {session.name}; save to keep them")
        session.finish_restore()

    def _on_recovery_restore_chosen(self, entries: list) -> None:
        for entry in entries:
            session = self.sessions.get(entry.name) or self._add_session(entry.name)
            session.set_restore(entry)
        current = self.session
        if current is not None and current.restore_entry is not None:
            self._apply_restore(current)
        elif entries:
            self.state.request_image(entries[0].name)

    def _on_state_image_requested(self, _name: str) -> None:
        """Another image will be shown: with automatic saving on, the current one's edits are saved now."""
        if self.save_on_leave and self.session is not None:
            self.commit_pending()
            if self.session.edited:
                self.saver.save(self.session)

    def _on_state_current_changed(self) -> None:
        document = self.state.document
        if self.session is not None and document is self.session.document:
            return  # the same image
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

    def _on_session_shapes_changed(self) -> None:
        if self.sender() is self.session:
            self.tools["polygon"].refresh()


def _as_bool(value) -> bool:
    return value in (True, "true", "True", "1", 1)

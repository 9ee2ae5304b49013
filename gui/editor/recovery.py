"""Recovery files of unsaved edits, and the offer to restore them when a folder is opened again.

Every few seconds (QSettings editor/autosave_seconds, default 3), each image with unsaved edits that changed
since its last write gets a copy of its mask in core/data/workspace.recovery_dir, written on a worker thread
(core/data/recovery_files.py), one at a time. When an image's edits are saved or let go its EditSession
says so (edited_changed) and its file is deleted; a lock and a per-image generation keep a write still in
flight from bringing a deleted file back. Opening a folder that has recovery files asks whether to restore
them (a dialog listing the images); `restore_chosen` hands the entries to the editor.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget

from core.data.recovery_files import (
    RecoveryEntry,
    delete_recovery,
    list_recovery,
    read_recovery,
    write_recovery,
)
from core.errors import SegLabError
from core.mask_painting import MaskPatch
from gui.editor import editor_dialogs as dialogs
from gui.editor.edit_session import EditSession
from gui.state import AppState
from gui.workers import TaskRunner

DEFAULT_AUTOSAVE_S = 3.0


def write_recovery_task(ctx, lock: threading.Lock, generations: dict, generation: int, folder: Path, name: str,
                        mask: np.ndarray, source) -> str | None:
    """Worker: write the recovery files unless they were let go (saved or discarded) meanwhile."""
    with lock:
        if generations.get(name, 0) != generation:
            return None
        write_recovery(folder, name, mask, source)
    return name


class RecoveryController(QObject):
    restore_chosen = Signal(list)  # [RecoveryEntry]: the user chose to restore these edits

    def __init__(self, state: AppState, tasks: TaskRunner, interval_s: float, widget: QWidget,
                 edited_sessions: Callable[[], Iterable[EditSession]], parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self.tasks = tasks
        self.widget = widget  # dialogs open over its window and give it the keyboard back
        self.edited_sessions = edited_sessions
        self.folder: Path | None = None
        self._written: dict[str, int] = {}  # name -> session revision on disk
        self._unusable: set[str] = set()  # restoring failed: the files stay for the user to look at
        self._lock = threading.Lock()
        self._generations: dict[str, int] = {}
        self._writing = False
        self._warned = False
        self.timer = QTimer(self)
        self.timer.setInterval(max(100, int(interval_s * 1000)))
        self.timer.timeout.connect(self._on_timer)

    def stop(self) -> None:
        self.timer.stop()

    # the folder ---------------------------------------------------------------------------------
    def dataset_opened(self, index) -> None:
        from core.data.workspace import recovery_dir

        self._written, self._unusable = {}, set()
        self.folder = None
        if index is None:
            self.timer.stop()
            return
        try:
            self.folder = recovery_dir(index.root)
        except OSError as exc:
            self.state.message.emit(f"Unsaved edits cannot be backed up for {index.root} ({exc.strerror}); "
                                    "save often")
            return
        self.timer.start()
        names = {sample.name for sample in index.samples}
        entries = [entry for entry in list_recovery(self.folder) if entry.name in names]
        if entries:
            QTimer.singleShot(0, self, lambda: self._offer(index, entries))

    def _offer(self, index, entries: list[RecoveryEntry]) -> None:
        if self.state.index is not index:
            return
        lines = [f"{entry.name}: edited {time.strftime('%Y-%m-%d %H:%M', time.localtime(entry.saved_at))}"
                 + ("  (its saved mask changed since; restoring replaces it)" if entry.source_changed else "")
                 for entry in entries]
        answer = dialogs.ask_restore(self.widget, lines)
        if answer == "discard":
            for entry in entries:
                self._delete(entry.name)
        elif answer == "restore":
            for entry in entries:
                self._written[entry.name] = 0  # on disk already
            self.restore_chosen.emit(entries)

    def restore_patch(self, session: EditSession) -> MaskPatch | None:
        """The edit that puts the session's restored mask on screen; None when there is nothing to apply
        (the message says why when the file cannot be used; it is then left where it is)."""
        entry = session.restore_entry
        try:
            mask = read_recovery(entry)
        except SegLabError as exc:
            self._unusable.add(session.name)
            self.state.message.emit(str(exc))
            return None
        if mask.shape != session.mask.shape:
            self._unusable.add(session.name)
            self.state.message.emit(f"The recovered mask of {session.name} does not fit the image any more; "
                                    f"it is kept in {entry.mask_file}")
            return None
        return MaskPatch.between((0, 0, *mask.shape), session.mask, mask.astype(session.mask.dtype))

    # writing ------------------------------------------------------------------------------------
    def on_session_edited_changed(self, name: str, edited: bool) -> None:
        """An image's edits were saved or let go: its recovery files go too."""
        if not edited:
            self._delete(name)

    def _on_timer(self) -> None:
        if self._writing or self.folder is None:
            return
        session = next((s for s in self.edited_sessions()
                        if s.mask is not None and self._written.get(s.name) != s.revision), None)
        if session is None:
            return
        self._writing = True
        name, revision = session.name, session.revision
        task = self.tasks.start(write_recovery_task, self._lock, self._generations,
                                self._generations.get(name, 0), self.folder, name, session.mask.copy(),
                                session.stamp)
        task.signals.finished.connect(lambda result, n=name, r=revision: self._on_written(n, r, result))
        task.signals.failed.connect(lambda message, _details: self._on_write_failed(message))
        task.signals.cancelled.connect(self._on_write_cancelled)

    def _on_written(self, name: str, revision: int, result) -> None:
        self._writing = False
        if result is not None:
            self._written[name] = revision
            self._unusable.discard(name)

    def _on_write_failed(self, message: str) -> None:
        self._writing = False
        if not self._warned:
            self._warned = True
            self.state.message.emit(f"Unsaved edits could not be backed up: {message}")

    def _on_write_cancelled(self) -> None:
        self._writing = False

    def write_now(self, session: EditSession) -> Path | None:
        """Write the session's recovery file at once (e.g. saving failed); its path, or None."""
        if self.folder is None:
            return None
        if session.mask is None:  # restored edits not shown yet: their file is there
            return session.restore_entry.mask_file if session.restore_entry is not None else None
        try:
            with self._lock:
                entry = write_recovery(self.folder, session.name, session.mask, session.stamp)
        except (OSError, SegLabError):
            return None
        self._written[session.name] = session.revision
        self._unusable.discard(session.name)
        return entry.mask_file

    def _delete(self, name: str) -> None:
        """Remove the recovery files of `name` (and any write in flight), unless restoring them failed."""
        self._written.pop(name, None)
        if self.folder is None or name in self._unusable:
            return
        with self._lock:
            self._generations[name] = self._generations.get(name, 0) + 1
            try:
                delete_recovery(self.folder, name)
            except OSError as exc:
                self.state.message.emit(f"The recovery file of {name} could not be removed ({exc.strerror})")

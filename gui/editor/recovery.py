"""Autosave to recovery files, and the offer to restore them when a folder is opened again.

Every few seconds (QSettings editor/autosave_seconds, default 3), if the current image has unsaved edits
that changed since the last write, a copy of its mask is written to core/data/workspace.recovery_dir on a
worker thread (core/data/recovery_files.py). Saving, discarding or undoing back to the saved mask deletes
the file; a lock and a per-image generation keep a write still in flight from bringing a deleted file
back. Opening a folder that has recovery files asks whether to restore them (a dialog listing the
images); a restored mask is applied, unsaved and undoable, when its image is shown.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QTimer

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
from gui.workers import TaskRunner

if TYPE_CHECKING:
    from gui.editor.editor_controller import EditorController

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
    def __init__(self, controller: EditorController, tasks: TaskRunner):
        super().__init__(controller)
        self.controller = controller
        self.tasks = tasks
        self.folder: Path | None = None
        self.pending: dict[str, RecoveryEntry] = {}  # restored, applied when the image is shown
        self._written: dict[str, int] = {}  # name -> session revision on disk
        self._lock = threading.Lock()
        self._generations: dict[str, int] = {}
        self._writing = False
        self._warned = False
        seconds = float(controller.settings.value("editor/autosave_seconds", DEFAULT_AUTOSAVE_S))
        self.timer = QTimer(self)
        self.timer.setInterval(max(100, int(seconds * 1000)))
        self.timer.timeout.connect(self._on_timer)

    def stop(self) -> None:
        self.timer.stop()

    # the folder ---------------------------------------------------------------------------------
    def dataset_opened(self, index) -> None:
        from core.data.workspace import recovery_dir

        self.pending, self._written = {}, {}
        self.folder = None
        if index is None:
            self.timer.stop()
            return
        try:
            self.folder = recovery_dir(index.root)
        except OSError as exc:
            self.controller.message(f"Unsaved edits cannot be backed up for {index.root} ({exc.strerror}); "
                                    "save often")
            return
        self.timer.start()
        names = {sample.name for sample in index.samples}
        entries = [entry for entry in list_recovery(self.folder) if entry.name in names]
        if entries:
            QTimer.singleShot(0, self, lambda: self._offer(index, entries))

    def _offer(self, index, entries: list[RecoveryEntry]) -> None:
        state = self.controller.state
        if state.index is not index:
            return
        lines = [f"{entry.name}: edited {time.strftime('%Y-%m-%d %H:%M', time.localtime(entry.saved_at))}"
                 + ("  (its saved mask changed since; restoring replaces it)" if entry.source_changed else "")
                 for entry in entries]
        answer = dialogs.ask_restore(self.controller.window, lines)
        if answer == "discard":
            for entry in entries:
                self.forget(entry.name)
        elif answer == "restore":
            self.pending = {entry.name: entry for entry in entries}
            for entry in entries:
                state.mark_edited(entry.name, True)
            session = self.controller.session
            if session is not None and session.name in self.pending:
                self.document_shown(session)
            else:
                state.request_image(entries[0].name)

    def document_shown(self, session) -> None:
        """An image is shown: apply its restored edits, if any, as one undoable step."""
        entry = self.pending.pop(session.name, None) if session is not None else None
        if entry is None:
            return
        try:
            mask = read_recovery(entry)
        except SegLabError as exc:
            self.controller.message(str(exc))
            return
        if mask.shape != session.mask.shape:
            self.controller.message(f"The recovered mask of {session.name} does not fit the image any more; "
                                    f"it is kept in {entry.mask_file}")
            return
        patch = MaskPatch.between((0, 0, *mask.shape), session.mask, mask.astype(session.mask.dtype))
        if patch is None:
            self.forget(session.name)
            self.controller.state.mark_edited(session.name, False)
            return
        self.controller.push("Restore unsaved edits", patch)
        self.controller.message(f"Restored the unsaved edits of {session.name}; save to keep them")

    # writing ------------------------------------------------------------------------------------
    def _on_timer(self) -> None:
        session = self.controller.session
        if self._writing or self.folder is None or session is None or not session.dirty:
            return
        if self._written.get(session.name) == session.revision:
            return
        self._writing = True
        name, revision = session.name, session.revision
        task = self.tasks.start(write_recovery_task, self._lock, self._generations,
                                self._generations.get(name, 0), self.folder, name, session.mask.copy(),
                                session.document.annotation_stamp)
        task.signals.finished.connect(lambda result, n=name, r=revision: self._on_written(n, r, result))
        task.signals.failed.connect(lambda message, _details: self._on_write_failed(message))
        task.signals.cancelled.connect(self._on_write_cancelled)

    def _on_written(self, name: str, revision: int, result) -> None:
        self._writing = False
        if result is not None:
            self._written[name] = revision

    def _on_write_failed(self, message: str) -> None:
        self._writing = False
        if not self._warned:
            self._warned = True
            self.controller.message(f"Unsaved edits could not be backed up: {message}")

    def _on_write_cancelled(self) -> None:
        self._writing = False

    def write_now(self, session) -> Path | None:
        """Write the session's recovery file at once (e.g. saving failed); its path, or None."""
        if self.folder is None or session is None:
            return None
        try:
            with self._lock:
                entry = write_recovery(self.folder, session.name, session.mask, session.document.annotation_stamp)
        except (OSError, SegLabError):
            return None
        self._written[session.name] = session.revision
        return entry.mask_file

    def forget(self, name: str) -> None:
        """The edits of `name` were saved or let go: remove its recovery files (and any write in flight)."""
        self.pending.pop(name, None)
        self._written.pop(name, None)
        if self.folder is None:
            return
        with self._lock:
            self._generations[name] = self._generations.get(name, 0) + 1
            try:
                delete_recovery(self.folder, name)
            except OSError as exc:
                self.controller.message(f"The recovery file of {name} could not be removed ({exc.strerror})")

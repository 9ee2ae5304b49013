"""Typed errors. Every message says what went wrong, with which file, and what to do about it."""

from __future__ import annotations

from pathlib import Path


class SegLabError(Exception):
    """Base class: a problem the user can act on. `path` names the file concerned, when there is one."""

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = Path(path) if path is not None else None
        self.reason = message
        super().__init__(f"{self.path}: {message}" if self.path is not None else message)


class ImageReadError(SegLabError):
    """An image file is missing, unreadable, truncated or not an image."""


class MaskFormatError(SegLabError):
    """A mask file cannot be decoded into class indices, or does not match its image."""


class UnknownLabelsError(MaskFormatError):
    """An annotation names classes that are not in the class table; `labels` lists them, to offer adding."""

    def __init__(self, labels: list[str], class_names: list[str], path: str | Path | None = None):
        self.labels = tuple(labels)
        super().__init__(f"label(s) {', '.join(map(repr, self.labels))} are not in the class table (classes: "
                         f"{', '.join(class_names)}); add them as classes or rename the shapes", path)


class DatasetError(SegLabError):
    """A folder cannot be used as a dataset (empty, nothing labeled, bad settings file)."""


class ModelFileError(SegLabError):
    """A model file is corrupt, foreign, or unsafe to read (a pickle)."""


class TrainingError(SegLabError):
    """Training cannot start or continue (bad settings, out of memory, unusable device)."""


class ConfigError(SegLabError):
    """A setting or argument has a value that cannot be used."""


class MaskSaveError(SegLabError):
    """A mask could not be written (read-only folder, full disk, a format that cannot hold the classes)."""


class MaskChangedOnDiskError(MaskSaveError):
    """Another program changed (or created) the annotation file since SegLab read it."""


class WriteError(SegLabError, OSError):
    """A file or folder cannot be written (read-only, full disk, a file where a folder should be). Also an
    OSError, so code that handles failed writes keeps working: errno and strerror are the system's."""

    def __init__(self, message: str, path: str | Path | None = None, cause: OSError | None = None):
        super().__init__(message, path)
        self.errno = getattr(cause, "errno", None)
        self.strerror = getattr(cause, "strerror", None) or message
        self.filename = None if path is None else str(path)

    def __str__(self) -> str:
        return str(self.args[0])


class Cancelled(Exception):
    """Work stopped because its cancel callable returned True (or the user cancelled its task); nothing partial
    is returned. Not a SegLabError: there is nothing for the user to fix."""


def unknown_name_error(kind: str, name: str, valid: list[str]) -> ConfigError:
    """The error for a registry miss: names the bad value and lists the valid ones."""
    return ConfigError(f"unknown {kind} {name!r}; choose one of: {', '.join(sorted(valid))}")

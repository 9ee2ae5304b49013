"""Which images of a folder an evaluation scores: a model file records the images it was trained on, and
scores on those flatter it, so by default they are left out; included on request, they are marked."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MATCH_RULE = ("an image counts as trained on when its name in this folder (the file name without extension) "
              "is one of the model's training images, wherever the folder is, so a copy of the training "
              "folder counts too")
NO_RECORD = "this model file does not record its training images"


@dataclass(frozen=True)
class EvaluationScope:
    """What the model file says about the labeled images of the evaluated folder."""

    recorded: bool  # the model file lists its training images
    include_training: bool
    trained_on: tuple[str, ...] = ()  # labeled images of this folder the model was trained on
    validation: tuple[str, ...] = ()  # labeled images it used to choose its best epoch (not trained on)
    training_dir: str = ""  # where it was trained, as recorded

    @classmethod
    def of(cls, training: dict, labeled_names: Iterable[str], include_training: bool = False) -> EvaluationScope:
        """The scope for a model's training record (ModelSpec.training) and a folder's labeled image names."""
        train_names, val_names = training.get("train_images"), training.get("val_images")
        if not isinstance(train_names, list):
            return cls(False, include_training)
        names = list(labeled_names)
        trained, validation = set(map(str, train_names)), set(map(str, val_names or []))
        return cls(True, include_training, tuple(n for n in names if n in trained),
                   tuple(n for n in names if n in validation and n not in trained),
                   str(training.get("data_dir") or ""))

    @property
    def left_out(self) -> tuple[str, ...]:
        return () if self.include_training else self.trained_on

    @property
    def rule(self) -> str:
        """How training images are recognised, or why they cannot be."""
        return MATCH_RULE if self.recorded else NO_RECORD

    def scores(self, name: str) -> bool:
        return name not in self.left_out

    def to_json(self) -> dict:
        return {"training_recorded": self.recorded, "include_training": self.include_training,
                "trained_on": list(self.trained_on), "validation": list(self.validation),
                "left_out": list(self.left_out), "training_dir": self.training_dir,
                "rule": self.rule}

    @classmethod
    def from_json(cls, data: dict | None) -> EvaluationScope | None:
        """The scope stored in a report's meta; None for reports written before SegLab recorded it."""
        if not isinstance(data, dict):
            return None
        return cls(bool(data.get("training_recorded")), bool(data.get("include_training")),
                   tuple(data.get("trained_on") or ()), tuple(data.get("validation") or ()),
                   str(data.get("training_dir") or ""))

    def describe(self, scored: Iterable[str], include_hint: str = "") -> str:
        """One sentence on what was scored, e.g. 'scored 8 images the model never trained on; left out 33
        it was trained on (HINT)'. `scored`: the names of the images that were scored."""
        scored = list(scored)
        if not self.recorded:
            return f"scored all {image_count(len(scored))}: {NO_RECORD}"
        trained = set(self.trained_on)
        trained_scored = sum(name in trained for name in scored)
        held_out = len(scored) - trained_scored
        if self.left_out:
            hint = f" ({include_hint})" if include_hint else ""
            return (f"scored {image_count(held_out)} the model never trained on; left out "
                    f"{len(self.left_out)} it was trained on{hint}")
        if trained_scored:
            return (f"scored {image_count(len(scored))}: {held_out} the model never trained on and "
                    f"{trained_scored} it was trained on (marked “trained on”)")
        return f"scored {image_count(len(scored))}, none of which the model was trained on"

    def validation_note(self, scored: Iterable[str]) -> str:
        """Which scored images chose the model's best epoch ('' when none): not trained on, not quite unseen."""
        count = len(set(scored) & set(self.validation))
        if not count:
            return ""
        role = "was a validation image" if count == 1 else "were validation images"
        return f"{count} of them {role} of the model (used to choose its best epoch)"


def image_count(count: int) -> str:
    """'1 image', '8 images'."""
    return f"{count} image" if count == 1 else f"{count} images"

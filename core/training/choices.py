"""The named choices of a training run as people read them: augmentation presets, optimiser and schedule
titles, and one line of help per TrainConfig setting. The wizard and the command line both show these."""

from __future__ import annotations

from core.data.augment import AugmentConfig
from core.errors import unknown_name_error

AUGMENT_PRESETS: dict[str, tuple[str, AugmentConfig]] = {
    "standard": ("Flips, rotations, scale, brightness", AugmentConfig()),
    "geometry": ("Flips and rotations only", AugmentConfig(scale=0.0, brightness=0.0, contrast=0.0)),
    "none": ("None", AugmentConfig.none()),
}
OPTIMIZER_TITLES = {"adamw": "AdamW", "sgd": "SGD with momentum", "rmsprop": "RMSprop"}
SCHEDULE_TITLES = {"plateau": "Halve when the score stalls", "cosine": "Cosine decay", "none": "Constant"}
SETTING_HELP = {
    "epochs": "How many times training goes through the images; it stops early when the score stops improving.",
    "minutes": "Train for this long instead of a number of epochs: the run is planned for the time, the learning "
               "rate falls over it and the best model is kept when time is up.",
    "patch_size": "Training looks at square crops of this many pixels; larger crops see more context but need "
                  "more memory.",
    "batch_size": "Crops learned from together in one step; lower it if the device runs out of memory.",
    "patches_per_epoch": "Crops per epoch; automatic covers every training image about once.",
    "learning_rate": "How big each learning step is: too high and the loss jumps about, too low and learning "
                     "crawls.",
    "optimizer": "The method that updates the weights; AdamW works well almost everywhere.",
    "schedule": "How the learning rate falls during training.",
    "loss": "What training minimises.",
    "augment": "Random changes to the crops (scale ±20 %, brightness and contrast ±10 %) so the model copes "
               "with images it has not seen.",
    "early_stopping": "Stop when the validation score has not improved for this many epochs.",
    "device": "Where the computation runs; a GPU is often 10 to 50 times faster.",
}


def augment_preset(name: str) -> AugmentConfig:
    """The augmentation of a preset by name; a wrong name raises ConfigError listing the presets."""
    if name not in AUGMENT_PRESETS:
        raise unknown_name_error("augmentation", name, list(AUGMENT_PRESETS))
    return AUGMENT_PRESETS[name][1]


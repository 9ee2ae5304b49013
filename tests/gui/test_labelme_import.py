"""Importing a labelme file whose labels are not classes yet: the window offers them as new classes."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from core.classes import IGNORE_INDEX
from tests.gui.editor_helpers import CLASSES, SIZE, fixtures

three_class, dialogs, _ = fixtures()


def test_unknown_labels_are_offered_as_new_classes(main_window, show_folder, tmp_path, dialogs):
    folder = tmp_path / "labelme"
    folder.mkdir()
    Image.fromarray(np.zeros(SIZE, np.uint8)).save(folder / "a.png")
    (folder / "seglab.json").write_text(json.dumps({"version": 1, "classes": CLASSES.to_json()}))
    shapes = [{"label": "axon", "points": [[10, 10], [40, 30]], "shape_type": "rectangle"},
              {"label": "nucleus", "points": [[60, 60], [80, 60], [80, 80]], "shape_type": "polygon"},
              {"label": "__ignore__", "points": [[100, 10], [120, 20]], "shape_type": "rectangle"}]
    labelme = tmp_path / "outside.json"
    labelme.write_text(json.dumps({"shapes": shapes, "imagePath": "a.png", "imageWidth": SIZE[1],
                                   "imageHeight": SIZE[0]}))
    show_folder(main_window, folder, "a")
    window, state = main_window, main_window.state

    dialogs.answer("confirm", False)  # declined: nothing changes
    assert not window.editor_actions.labelme.import_file(labelme)
    assert state.classes == CLASSES and not state.document.mask.any()
    assert "outside.json uses label(s) 'axon'" in dialogs.texts("confirm")[0]

    dialogs.answer("confirm", True)
    assert window.editor_actions.labelme.import_file(labelme)
    assert state.classes.names == [*CLASSES.names, "axon"]
    mask = state.document.mask
    assert mask[20, 25] == 3 and mask[65, 75] == CLASSES.names.index("nucleus") and mask[15, 110] == IGNORE_INDEX
    assert not dialogs.texts("show_error")

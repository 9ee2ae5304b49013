"""Where training writes: a new model's default path never lands on an earlier model or checkpoint, the
checkpoint sits where TrainConfig resumes from, and folders that cannot take a model are named."""

from __future__ import annotations

import datetime

from core.training.config import TrainConfig
from core.training.paths import checkpoint_path, folder_problem, new_model_path

DAY = datetime.date(2024, 5, 17)


def test_a_new_model_goes_to_the_dataset_models_folder_named_by_folder_and_date(tmp_path):
    data = tmp_path / "cells"
    data.mkdir()
    assert new_model_path(data, DAY) == data / "models" / "cells_2024-05-17.safetensors"


def test_a_new_model_never_replaces_an_earlier_model_or_checkpoint(tmp_path):
    data = tmp_path / "cells"
    models = data / "models"
    models.mkdir(parents=True)
    (models / "cells_2024-05-17.safetensors").write_bytes(b"an earlier model")
    checkpoint = checkpoint_path(models / "cells_2024-05-17_2.safetensors")  # a run stopped before its first epoch
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b"a checkpoint")
    chosen = new_model_path(data, DAY)
    assert chosen == models / "cells_2024-05-17_3.safetensors"
    assert not chosen.exists() and not checkpoint_path(chosen).exists()


def test_the_checkpoint_is_where_a_run_resumes_from(tmp_path):
    model = tmp_path / "m.v2.safetensors"
    assert checkpoint_path(model) == tmp_path / "m_training" / "last.pt"
    assert TrainConfig(data_dir=".", output=str(model)).checkpoint_path == checkpoint_path(model)
    assert TrainConfig(data_dir=".", output=str(model), checkpoint_dir=str(tmp_path / "c")).checkpoint_path == \
        tmp_path / "c" / "last.pt"


def test_folder_problems_name_the_fix(tmp_path):
    assert folder_problem(tmp_path / "models" / "new.safetensors") is None  # missing folders are created
    assert "must end in .safetensors" in folder_problem(tmp_path / "model.pt")
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    assert folder_problem(blocker / "m.safetensors") == f"{blocker} cannot be written; choose another folder"

"""Unwritable outputs: a full disk or a read-only folder gives one typed error naming the file, and leaves
neither a partial file nor a temporary one behind."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest
from PIL import Image

from core.classes import ClassTable
from core.data.index import DatasetIndex
from core.data.settings import SETTINGS_FILE, DatasetSettings
from core.errors import SegLabError, WriteError
from core.export.exporter import ExportRequest, export_masks, truth_items
from core.io import atomic
from core.io.masks import read_mask
from tests.core.synthetic import write_dataset


def _disk_full_on(name_part: str, monkeypatch) -> None:
    """PIL saves whose file name contains name_part write half a file, then fail as a full disk does."""
    original = Image.Image.save

    def save(image, fp, *args, **kwargs):
        if name_part in str(fp):
            with open(fp, "wb") as handle:
                handle.write(b"\x89PNG half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return original(image, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", save)


def test_an_export_that_fills_the_disk_names_the_file_and_leaves_no_partial_output(tmp_path, monkeypatch):
    index = DatasetIndex.scan(write_dataset(tmp_path / "data", count=3))
    out = tmp_path / "out"
    _disk_full_on("img1.png", monkeypatch)
    result = export_masks(ExportRequest(truth_items(index), out, index.settings.classes, ("index_png",)))
    assert [name for name, _ in result.failures] == ["img1"]
    message = result.failures[0][1]
    assert message.startswith(f"{out / 'masks' / 'img1.png'}: cannot be written: the disk is full")
    assert "free some space" in message
    assert sorted(p.name for p in (out / "masks").iterdir()) == ["img0.png", "img2.png"]  # no partial, no temp
    for name in ("img0", "img2"):
        assert np.array_equal(read_mask(out / "masks" / f"{name}.png"), index.load_mask(index.sample(name)))


def test_settings_on_a_full_disk_raise_a_typed_error_and_keep_the_old_file(tmp_path, monkeypatch):
    DatasetSettings(ClassTable.default(2)).save(tmp_path)
    before = (tmp_path / SETTINGS_FILE).read_bytes()

    def full(path, data):
        with path.open("wb") as handle:
            handle.write(data[:10])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(type(tmp_path), "write_bytes", full)
    with pytest.raises(WriteError) as caught:
        DatasetSettings(ClassTable.default(3)).save(tmp_path)
    assert str(caught.value).startswith(f"{tmp_path / SETTINGS_FILE}: cannot be written: the disk is full")
    assert isinstance(caught.value, SegLabError) and isinstance(caught.value, OSError)  # old handlers still work
    assert caught.value.errno == errno.ENOSPC
    assert os.listdir(tmp_path) == [SETTINGS_FILE] and (tmp_path / SETTINGS_FILE).read_bytes() == before


def test_settings_in_a_read_only_folder_raise_a_typed_error(tmp_path, monkeypatch):
    def read_only(target):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(target))

    monkeypatch.setattr(atomic, "_create_temp", read_only)
    with pytest.raises(WriteError, match=r"cannot be written: the folder is read-only or you lack permission "
                                         r"\(Permission denied\); choose a folder you can write to") as caught:
        DatasetSettings().save(tmp_path)
    assert caught.value.path == tmp_path / SETTINGS_FILE

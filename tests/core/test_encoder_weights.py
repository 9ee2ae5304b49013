"""Pretrained weights from a user's file: encoder naming variants, first-conv adaptation, fine-tune starts."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torchvision.models import resnet18, vgg

from core.classes import ClassTable
from core.errors import ModelFileError
from core.models.encoder_weights import load_encoder_weights, load_weights_from_model_file
from core.models.model_file import save_model_file
from core.models.registry import build_from_spec
from core.models.spec import ModelSpec


def _spec(architecture="unet", encoder="resnet18", in_channels=1, out_channels=2, **options) -> ModelSpec:
    return ModelSpec(
        architecture=architecture,
        encoder=encoder,
        in_channels=in_channels,
        out_channels=out_channels,
        classes=ClassTable.default(max(out_channels, 2)),
        options=options,
    )


@pytest.fixture(scope="module")
def torchvision_resnet18() -> dict[str, torch.Tensor]:
    """An RGB torchvision ResNet-18 state dict with random (non-default) values."""
    torch.manual_seed(1)
    return {name: tensor.clone() for name, tensor in resnet18(weights=None).state_dict().items()}


def test_torchvision_rgb_resnet_loads_into_a_one_channel_smp_unet(torchvision_resnet18, tmp_path):
    path = tmp_path / "resnet18.safetensors"
    save_file(torchvision_resnet18, str(path))
    spec = _spec()
    model = build_from_spec(spec)
    decoder_before = {k: v.clone() for k, v in model.decoder.state_dict().items()}
    report = load_encoder_weights(model, path, spec)
    encoder_state = model.encoder.state_dict()
    assert report.loaded == len(encoder_state) and report.missing == 0
    assert report.skipped == 2  # the classifier fc.weight and fc.bias have no place in an encoder
    assert report.adapted == ("conv1.weight",)
    assert torch.equal(
        encoder_state["conv1.weight"], torchvision_resnet18["conv1.weight"].sum(dim=1, keepdim=True)
    )
    assert torch.equal(encoder_state["layer3.1.conv2.weight"], torchvision_resnet18["layer3.1.conv2.weight"])
    assert torch.equal(encoder_state["bn1.running_var"], torchvision_resnet18["bn1.running_var"])
    assert all(torch.equal(v, decoder_before[k]) for k, v in model.decoder.state_dict().items())


def test_wrapped_prefixed_torch_file_loads_and_n_channels_are_cycled(torchvision_resnet18, tmp_path):
    path = tmp_path / "checkpoint.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in torchvision_resnet18.items()}, "epoch": 7}, path)
    spec = _spec(architecture="fpn", in_channels=2)
    model = build_from_spec(spec)
    report = load_encoder_weights(model, path, spec)
    assert report.loaded == len(model.encoder.state_dict())
    rgb = torchvision_resnet18["conv1.weight"]
    first = model.encoder.state_dict()["conv1.weight"]
    assert torch.allclose(first, torch.stack([rgb[:, 0], rgb[:, 1]], dim=1) * 1.5)


def test_whole_smp_model_file_serves_as_encoder_weights(tmp_path):
    spec = _spec()
    trained = build_from_spec(spec)
    path = save_model_file(tmp_path / "previous", trained, spec)
    fresh = build_from_spec(_spec(architecture="linknet"))
    report = load_encoder_weights(fresh, path, _spec(architecture="linknet"))
    assert report.loaded == len(fresh.encoder.state_dict()) and not report.adapted
    assert torch.equal(fresh.encoder.layer4[1].conv2.weight, trained.encoder.layer4[1].conv2.weight)


def test_torchvision_vgg16_features_load_into_fcn8s(tmp_path):
    torch.manual_seed(2)
    features = {f"features.{k}": v for k, v in vgg.make_layers(vgg.cfgs["D"]).state_dict().items()}
    path = tmp_path / "vgg16.safetensors"
    save_file(features | {"classifier.6.bias": torch.zeros(1000)}, str(path))
    spec = _spec(architecture="fcn8s", encoder=None, in_channels=3, fc_channels=16)
    model = build_from_spec(spec)
    report = load_encoder_weights(model, path, spec)
    assert report.loaded == len(features) and report.skipped == 1 and not report.adapted
    assert torch.equal(model.features[28].weight, features["features.28.weight"])


def test_weights_of_another_network_are_refused(torchvision_resnet18, tmp_path):
    path = tmp_path / "resnet18.safetensors"
    save_file(torchvision_resnet18, str(path))
    spec = _spec(architecture="segformer", encoder="mit_b0")
    with pytest.raises(
        ModelFileError,
        match=r"none of its 122 tensors fit the mit_b0 encoder of SegFormer: the file "
        r"has names like bn1\.weight, conv1\.weight.*expects names like patch_embed1",
    ):
        load_encoder_weights(build_from_spec(spec), path, spec)


def test_torch_files_with_code_are_refused_unexecuted(tmp_path):
    marker = tmp_path / "marker.txt"

    class RunsCode:
        def __reduce__(self):
            return (Path.write_text, (marker, "code ran"))

    path = tmp_path / "trap.pth"
    torch.save({"conv1.weight": torch.zeros(1), "trap": RunsCode()}, path)
    spec = _spec()
    with pytest.raises(ModelFileError, match="holds Python objects besides tensors"):
        load_encoder_weights(build_from_spec(spec), path, spec)
    assert not marker.exists()
    text = tmp_path / "weights.txt"
    text.write_text("no weights here")
    with pytest.raises(ModelFileError, match="neither a safetensors nor a PyTorch weights file"):
        load_encoder_weights(build_from_spec(spec), text, spec)


def test_fine_tune_start_keeps_everything_but_an_output_layer_of_another_size(tmp_path):
    torch.manual_seed(3)
    previous_spec = _spec(architecture="u2net", encoder=None, out_channels=2, variant="small")
    previous = build_from_spec(previous_spec)
    path = save_model_file(tmp_path / "previous", previous, previous_spec)
    spec = _spec(
        architecture="u2net", encoder=None, out_channels=3
    )  # one more class, variant given by default
    with pytest.raises(
        ModelFileError, match=r"was trained as u2net \(variant=small\) but the new model is u2net"
    ):
        load_weights_from_model_file(build_from_spec(spec), path, spec)
    spec = _spec(architecture="u2net", encoder=None, out_channels=3, variant="small")
    model = build_from_spec(spec)
    report = load_weights_from_model_file(model, path, spec)
    assert report.missing == 14  # six side convolutions and the fusing one, weight and bias each
    assert report.loaded == len(model.state_dict()) - 14
    assert torch.equal(model.encoders[2].conv_in[0].weight, previous.encoders[2].conv_in[0].weight)
    same = build_from_spec(previous_spec)
    assert load_weights_from_model_file(same, path, previous_spec).missing == 0

"""Model registry and the seed architectures: names, shapes, options, learning, no network, cheap listing."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from core.errors import ConfigError
from core.models.outputs import main_output
from core.models.registry import (
    create_model,
    list_encoders,
    list_models,
    model_info,
    recommended,
    resolve_options,
)
from core.versions import software_versions
from tests.conftest import REPO

SMP = [
    "unet",
    "unetplusplus",
    "deeplabv3plus",
    "fpn",
    "linknet",
    "manet",
    "pspnet",
    "pan",
    "upernet",
    "segformer",
]
OWN = ["unet_classic", "u2net", "fcn8s"]


def _input_size(name: str) -> int:
    """A small test size that suits the architecture: at least 64 and its minimum, a multiple of size_multiple."""
    info = model_info(name)
    size = max(64, info.min_size)
    return -(-size // info.size_multiple) * info.size_multiple


def _light_encoder(name: str) -> str | None:
    encoders = list_encoders(name)
    return encoders[0] if encoders else None


def test_registry_lists_every_architecture_with_consistent_info():
    assert list_models() == SMP + OWN
    for name in list_models():
        info = model_info(name)
        assert info.name == name and info.title and info.description
        assert info.family == ("smp" if name in SMP else "seglab")
        assert info.needs_encoder == (name in SMP) == bool(list_encoders(name))
        assert (
            info.default_encoder in list_encoders(name)
            if info.needs_encoder
            else info.default_encoder is None
        )
        assert info.deep_supervision == (name == "u2net")
        assert info.smallest_input % info.size_multiple == 0 and info.smallest_input >= info.min_size
    assert model_info("UNet").name == "unet"
    assert "mit_b0" in list_encoders("segformer") and "mit_b0" not in list_encoders("linknet")
    import segmentation_models_pytorch as smp

    assert {e for name in SMP for e in list_encoders(name)} <= set(smp.encoders.encoders)


def test_recommended_is_lighter_on_cpu_than_on_gpu():
    cpu, gpu = recommended("cpu"), recommended("cuda")
    for architecture, encoder in (cpu, gpu):
        assert encoder in list_encoders(architecture)
    assert model_info(cpu[0]).cpu_friendly
    small, large = (create_model(a, in_channels=1, out_channels=2, encoder=e) for a, e in (cpu, gpu))
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel() for p in large.parameters())


@pytest.mark.parametrize("name", SMP + OWN)
@pytest.mark.parametrize(("in_channels", "out_channels"), [(1, 1), (3, 2), (1, 3)])
def test_every_architecture_maps_input_to_logits_of_the_same_size(name, in_channels, out_channels):
    torch.manual_seed(0)
    model = create_model(
        name, in_channels=in_channels, out_channels=out_channels, encoder=_light_encoder(name)
    )
    size = _input_size(name)
    with torch.no_grad():
        output = model.eval()(torch.randn(1, in_channels, size, size))
    assert isinstance(output, torch.Tensor)
    assert output.shape == (1, out_channels, size, size)
    assert torch.isfinite(output).all()


@pytest.mark.parametrize(("variant", "weights"), [("full", 44_022_566), ("small", 1_133_510)])
def test_u2net_returns_seven_outputs_in_training_and_one_in_eval(variant, weights):
    model = create_model("u2net", in_channels=1, out_channels=2, options={"variant": variant})
    assert sum(p.numel() for p in model.parameters()) == weights  # the article: 44.0 M and 1.13 M
    x = torch.randn(2, 1, 64, 64)
    outputs = model.train()(x)
    assert isinstance(outputs, tuple) and len(outputs) == 7
    assert all(o.shape == (2, 2, 64, 64) for o in outputs)
    with torch.no_grad():
        fused = model.eval()(x)
    assert isinstance(fused, torch.Tensor) and fused.shape == (2, 2, 64, 64)


@pytest.mark.parametrize(
    ("name", "options"),
    [("fcn8s", {"fc_channels": 64}), ("u2net", {"variant": "small"}), ("unet_classic", {"base_channels": 8})],
)
def test_own_networks_accept_sizes_that_are_not_multiples(name, options):
    model = create_model(name, in_channels=2, out_channels=3, options=options).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 2, 70, 90)).shape == (1, 3, 70, 90)


def test_fcn8s_starts_from_bilinear_upsampling_and_zero_skip_scores():
    model = create_model("fcn8s", in_channels=1, out_channels=2, options={"fc_channels": 64})
    assert model.features[0].in_channels == 1
    assert (
        torch.count_nonzero(model.score_pool3.weight) == 0
        and torch.count_nonzero(model.score_pool4.weight) == 0
    )
    # a transposed convolution with the bilinear kernel turns a constant map into the same constant (inside)
    constant = torch.full((1, 2, 8, 8), 3.0)
    upsampled = model.upscore8(constant)
    assert upsampled.shape == (1, 2, 64, 64)
    assert torch.allclose(upsampled[:, :, 8:-8, 8:-8], torch.full_like(upsampled[:, :, 8:-8, 8:-8], 3.0))


def test_classic_unet_upsamples_bilinearly_or_with_transposed_convolutions():
    bilinear = create_model("unet_classic", in_channels=1, out_channels=2)
    transposed = create_model("unet_classic", in_channels=1, out_channels=2, options={"bilinear": False})
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in bilinear.modules())
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in transposed.modules()) == 4
    assert sum(p.numel() for p in transposed.parameters()) == 31_036_546  # the article's 31 M
    assert bilinear.inc[0].out_channels == 64
    narrow = create_model(
        "unet_classic", in_channels=1, out_channels=2, options={"base_channels": 16, "bilinear": False}
    )
    assert narrow.inc[0].out_channels == 16
    with torch.no_grad():
        assert narrow.eval()(torch.randn(1, 1, 48, 80)).shape == (1, 2, 48, 80)


@pytest.mark.parametrize(
    ("name", "options"),
    [("u2net", {"variant": "small"}), ("unet_classic", {"base_channels": 8}), ("fcn8s", {"fc_channels": 16})],
)
def test_every_weight_of_the_own_networks_receives_a_gradient(name, options):
    model = create_model(name, in_channels=1, out_channels=2, options=options).train()
    outputs = model(torch.randn(2, 1, 64, 64))
    sum(o.square().mean() for o in (outputs if isinstance(outputs, tuple) else (outputs,))).backward()
    without = [n for n, p in model.named_parameters() if p.grad is None or not torch.count_nonzero(p.grad)]
    assert without == [], without


@pytest.mark.parametrize(
    ("name", "options", "learning_rate"),
    [("u2net", {"variant": "small"}, 1e-3), ("unet_classic", {"base_channels": 8}, 1e-2)],
)
def test_own_networks_learn_a_simple_mask(name, options, learning_rate):
    """A few optimiser steps on one noisy disk: the loss must fall clearly."""
    torch.manual_seed(0)
    model = create_model(name, in_channels=1, out_channels=2, options=options).train()
    yy, xx = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    target = (((yy - 32) ** 2 + (xx - 28) ** 2) < 15**2).long()[None].repeat(2, 1, 1)
    image = target[:, None].float() + 0.1 * torch.randn(2, 1, 64, 64)
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    losses = []
    for _ in range(8):
        loss = nn.functional.cross_entropy(main_output(model(image)), target)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_unknown_names_and_options_list_the_valid_ones():
    with pytest.raises(
        ConfigError, match=r"unknown architecture 'unett'; choose one of: .*fcn8s.*u2net.*unet"
    ):
        create_model("unett", in_channels=1, out_channels=2)
    with pytest.raises(ConfigError, match=r"unknown encoder for LinkNet 'mit_b0'.*resnet18"):
        create_model("linknet", in_channels=1, out_channels=2, encoder="mit_b0")
    with pytest.raises(ConfigError, match=r"option of U²-Net .* 'depth'.*variant"):
        create_model("u2net", in_channels=1, out_channels=2, options={"depth": 3})
    with pytest.raises(ConfigError, match=r"must be one of full, small"):
        create_model("u2net", in_channels=1, out_channels=2, options={"variant": "tiny"})
    with pytest.raises(ConfigError, match=r"must be a bool"):
        create_model("unet_classic", in_channels=1, out_channels=2, options={"bilinear": "yes"})
    with pytest.raises(ConfigError, match=r"takes no options"):
        create_model("unet", in_channels=1, out_channels=2, options={"base_channels": 8})
    with pytest.raises(ConfigError, match=r"no encoder to choose"):
        create_model("fcn8s", in_channels=1, out_channels=2, encoder="resnet18")
    with pytest.raises(ConfigError, match=r"unknown architecture"):
        list_encoders("nonet")
    assert resolve_options("u2net", {}) == {"variant": "full"}


_NO_NETWORK_SCRIPT = """
import socket, sys
def refuse(*args, **kwargs):
    raise AssertionError("network access while creating a model")
socket.socket.connect = socket.socket.connect_ex = refuse
socket.create_connection = socket.getaddrinfo = refuse
from core.models.registry import create_model, list_encoders, list_models, model_info
assert "torch" not in sys.modules, "listing models must not import torch"
pairs = [(name, model_info(name).default_encoder) for name in list_models()]
pairs += [("unet", encoder) for encoder in ("resnet18", "efficientnet-b0", "mobilenet_v2")]
for name, encoder in pairs:
    options = {"fc_channels": 16} if name == "fcn8s" else {}
    create_model(name, in_channels=1, out_channels=2, encoder=encoder, options=options)
print("built", len(pairs))
"""


def test_models_are_created_without_network_access_and_listing_skips_torch():
    environment = {
        k: v
        for k, v in __import__("os").environ.items()
        if not k.startswith(("HF_", "HUGGINGFACE", "TRANSFORMERS_", "TORCH_HOME"))
    }
    result = subprocess.run(
        [sys.executable, "-c", _NO_NETWORK_SCRIPT],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("built")


def test_software_versions_name_the_libraries_without_importing_them():
    versions = software_versions()
    assert versions["torch"].startswith(torch.__version__.split("+")[0])
    for key in (
        "seglab",
        "python",
        "platform",
        "torchvision",
        "segmentation_models_pytorch",
        "numpy",
        "opencv",
    ):
        assert versions[key] and versions[key] != "not installed"

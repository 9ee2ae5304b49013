"""Losses by name: values on hand-made cases, ignore pixels, gradients, deep supervision, class weights."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from core.classes import IGNORE_INDEX
from core.errors import ConfigError
from core.losses import create_loss, list_losses, loss_info

N = IGNORE_INDEX
ALL = ["ce", "bce", "dice", "ce_dice", "u2net"]
# (name, out_channels) for every loss with every channel count it accepts
CASES = [(name, channels) for name in ALL for channels in (1, 3) if not (name == "bce" and channels != 1)]


def random_batch(channels: int, seed: int = 0, ignore_share: float = 0.25):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, channels, 6, 5, generator=generator)
    target = torch.randint(0, max(channels, 2), (2, 6, 5), generator=generator)
    target[torch.rand(target.shape, generator=generator) < ignore_share] = N
    return logits, target


def test_registry_lists_every_loss_with_a_one_line_description():
    assert list_losses() == ALL
    for name in ALL:
        info = loss_info(name)
        assert info.name == name and info.title and "\n" not in info.description
        assert info.binary_only == (name == "bce")
    with pytest.raises(ConfigError, match=r"unknown loss 'focal'.*ce, ce_dice, dice"):
        create_loss("focal", out_channels=2)


def test_bce_refuses_a_multi_channel_model_and_says_what_to_use():
    with pytest.raises(ConfigError, match="one output channel.*has 3.*'ce'"):
        create_loss("bce", out_channels=3)


def test_class_weights_are_validated():
    with pytest.raises(ConfigError, match="2 class weights given; the model has 3"):
        create_loss("ce", out_channels=3, class_weights=[1, 2])
    with pytest.raises(ConfigError, match="not negative"):
        create_loss("ce", out_channels=2, class_weights=[1, -1])
    with pytest.raises(ConfigError, match="two positive"):
        create_loss("bce", out_channels=1, class_weights=[0, 1])


def test_cross_entropy_of_uniform_logits_is_log_of_class_count():
    target = torch.tensor([[[0, 1, 2, 3], [3, 2, N, 0]]])
    loss = create_loss("ce", out_channels=4)(torch.zeros(1, 4, 2, 4), target)
    assert loss.item() == pytest.approx(math.log(4))


def test_cross_entropy_matches_torch_with_weights_and_ignore_index():
    logits, target = random_batch(3)
    weights = [0.2, 1.0, 3.0]
    expected = F.cross_entropy(logits, target, weight=torch.tensor(weights), ignore_index=N)
    assert create_loss("ce", out_channels=3, class_weights=weights)(logits, target).item() == pytest.approx(
        expected.item(), rel=1e-6)


def test_class_weights_change_cross_entropy_as_a_weighted_mean():
    # Pixel a (class 0) and pixel b (class 1); each loss term by hand: -log softmax.
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]]).T.reshape(1, 2, 1, 2)  # a: (2, 0), b: (0, 1)
    target = torch.tensor([[[0, 1]]])
    loss_a = math.log(1 + math.exp(-2))
    loss_b = math.log(1 + math.exp(-1))
    plain = create_loss("ce", out_channels=2)(logits, target).item()
    weighted = create_loss("ce", out_channels=2, class_weights=[1.0, 3.0])(logits, target).item()
    assert plain == pytest.approx((loss_a + loss_b) / 2)
    assert weighted == pytest.approx((1 * loss_a + 3 * loss_b) / 4)
    assert weighted > plain  # the worse-predicted class counts more


def test_bce_matches_torch_on_the_labeled_pixels_with_pos_weight():
    logits, target = random_batch(1)
    labeled = target != N
    expected = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(4.0))(logits[:, 0][labeled],
                                                                       target[labeled].float())
    loss = create_loss("bce", out_channels=1, class_weights=[0.5, 2.0])(logits, target)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_ce_on_a_one_channel_model_is_bce_and_u2net_on_one_tensor_is_its_base_loss():
    for channels, base in ((1, "bce"), (3, "ce")):
        logits, target = random_batch(channels)
        expected = create_loss(base, out_channels=channels)(logits, target)
        assert create_loss("ce", out_channels=channels)(logits, target).item() == pytest.approx(expected.item())
        assert create_loss("u2net", out_channels=channels)(logits, target).item() == pytest.approx(expected.item())


def test_dice_of_a_perfect_prediction_is_zero_and_of_a_wrong_one_is_one():
    target = torch.tensor([[[0, 1, 1], [0, 0, N]]])
    perfect = 20.0 * F.one_hot(target.clamp(max=2), 3).permute(0, 3, 1, 2).float()
    dice = create_loss("dice", out_channels=3)
    assert dice(perfect, target).item() == pytest.approx(0.0, abs=1e-6)  # class 2 is absent: not counted
    wrong = 20.0 * F.one_hot((1 - target).clamp(0, 2), 3).permute(0, 3, 1, 2).float()
    assert dice(wrong, target).item() == pytest.approx(1.0, abs=1e-6)
    binary = create_loss("dice", out_channels=1)
    assert binary(torch.where(target == 1, 20.0, -20.0)[:, None].float(), target).item() == pytest.approx(0, abs=1e-6)


def test_dice_by_hand_on_uniform_probabilities():
    # Two pixels (class 0, class 1), probabilities 0.5 each: Dice per class = 2 * 0.5 / (1 + 1) = 0.5.
    loss = create_loss("dice", out_channels=2)(torch.zeros(1, 2, 1, 2), torch.tensor([[[0, 1]]]))
    assert loss.item() == pytest.approx(0.5)


@pytest.mark.parametrize(("name", "channels"), CASES)
def test_ignore_pixels_do_not_change_the_loss(name, channels):
    logits, target = random_batch(channels)
    ignored = target == N
    changed = logits.clone()
    changed[ignored.unsqueeze(1).expand_as(logits)] = 50.0  # wild logits where nothing is labeled
    loss = create_loss(name, out_channels=channels)
    assert loss(changed, target).item() == pytest.approx(loss(logits, target).item(), rel=1e-6)
    # and equal to the loss over the labeled pixels alone, laid out as one row
    labeled = ~ignored
    only_labeled = logits.permute(1, 0, 2, 3)[:, labeled].reshape(channels, 1, 1, -1).permute(1, 0, 2, 3)
    assert loss(only_labeled, target[labeled].reshape(1, 1, -1)).item() == pytest.approx(
        loss(logits, target).item(), rel=1e-5)


@pytest.mark.parametrize(("name", "channels"), CASES)
def test_gradients_flow_and_an_unlabeled_batch_gives_zero_not_nan(name, channels):
    loss = create_loss(name, out_channels=channels)
    logits, target = random_batch(channels)
    logits.requires_grad_(True)
    value = loss(logits, target)
    assert value.ndim == 0
    value.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    unlabeled = torch.zeros(1, channels, 3, 3, requires_grad=True)
    value = loss(unlabeled, torch.full((1, 3, 3), N))
    value.backward()
    assert value.item() == 0.0 and torch.isfinite(unlabeled.grad).all()


@pytest.mark.parametrize(("name", "channels"), CASES)
def test_deep_supervision_tuple_is_the_sum_over_its_entries(name, channels):
    loss = create_loss(name, out_channels=channels)
    _, target = random_batch(channels)
    outputs = tuple(random_batch(channels, seed=seed)[0] for seed in range(1, 8))  # fused + 6 sides, like U²-Net
    expected = sum(loss(output, target).item() for output in outputs)
    assert loss(outputs, target).item() == pytest.approx(expected, rel=1e-6)
    assert loss(list(outputs), target).item() == pytest.approx(expected, rel=1e-6)


def test_ce_dice_is_the_sum_of_its_parts():
    logits, target = random_batch(3)
    parts = [create_loss(name, out_channels=3, class_weights=[1, 2, 1])(logits, target).item() for name in ("ce", "dice")]
    combined = create_loss("ce_dice", out_channels=3, class_weights=[1, 2, 1])(logits, target).item()
    assert combined == pytest.approx(sum(parts))


def test_shape_mismatch_is_reported():
    loss = create_loss("ce", out_channels=3)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        loss(torch.zeros(1, 2, 4, 4), torch.zeros(1, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="target shape"):
        loss(torch.zeros(1, 3, 4, 4), torch.zeros(1, 4, 5, dtype=torch.long))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
def test_weighted_losses_run_on_the_gpu_and_agree_with_the_cpu():
    logits, target = random_batch(3)
    for name in ("ce", "ce_dice"):
        loss = create_loss(name, out_channels=3, class_weights=[1, 2, 3])  # weights are moved as needed
        on_gpu = loss((logits.cuda(), logits.cuda() * 2), target.cuda())
        on_cpu = loss((logits, logits * 2), target)
        assert on_gpu.item() == pytest.approx(on_cpu.item(), rel=1e-5)

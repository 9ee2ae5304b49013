"""U²-Net (Qin et al. 2020, "U²-Net: Going deeper with nested U-structure for salient object detection").

Six encoder stages and five decoder stages, each a residual U-block (RSU-7, 6, 5, 4 and the dilated RSU-4F).
Every decoder stage and the deepest encoder stage give a side prediction; a 1x1 convolution fuses the six.
variant="full" is U²-Net (44 M weights), variant="small" is U²-Net† (u2netp, 1.1 M weights, 64/16 channels).
Outputs are logits (the article applied a sigmoid inside the network): in training mode the tuple
(fused, side_1, ..., side_6), all at input resolution, for deep supervision; in eval mode the fused logits only.
Pooling rounds up (ceil_mode), so any input size works; multiples of 32 keep the levels exactly aligned.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# (height, in, mid, out) of encoder stages 1-6 and decoder stages 5d-1d; height 0 is the dilated RSU-4F.
_STAGES = {
    "full": (
        [
            (7, None, 32, 64),
            (6, 64, 32, 128),
            (5, 128, 64, 256),
            (4, 256, 128, 512),
            (0, 512, 256, 512),
            (0, 512, 256, 512),
        ],
        [(0, 1024, 256, 512), (4, 1024, 128, 256), (5, 512, 64, 128), (6, 256, 32, 64), (7, 128, 16, 64)],
    ),
    "small": (
        [
            (7, None, 16, 64),
            (6, 64, 16, 64),
            (5, 64, 16, 64),
            (4, 64, 16, 64),
            (0, 64, 16, 64),
            (0, 64, 16, 64),
        ],
        [(0, 128, 16, 64), (4, 128, 16, 64), (5, 128, 16, 64), (6, 128, 16, 64), (7, 128, 16, 64)],
    ),
}


def _upsample_like(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if source.shape[2:] == target.shape[2:]:
        return source
    return F.interpolate(source, size=target.shape[2:], mode="bilinear", align_corners=False)


def _pool() -> nn.MaxPool2d:
    return nn.MaxPool2d(2, stride=2, ceil_mode=True)


class ConvBNReLU(nn.Sequential):
    """The article's REBNCONV: 3x3 convolution (optionally dilated), BatchNorm, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, dilation: int = 1):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=dilation, dilation=dilation),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class RSU(nn.Module):
    """Residual U-block of height L: a small U-Net with L-2 poolings whose output is added to its input conv."""

    def __init__(self, height: int, in_channels: int, mid_channels: int, out_channels: int):
        super().__init__()
        self.conv_in = ConvBNReLU(in_channels, out_channels)
        self.encoders = nn.ModuleList(
            [ConvBNReLU(out_channels, mid_channels)]
            + [ConvBNReLU(mid_channels, mid_channels) for _ in range(height - 2)]
        )
        self.pool = _pool()
        self.bottom = ConvBNReLU(mid_channels, mid_channels, dilation=2)
        self.decoders = nn.ModuleList(
            [ConvBNReLU(2 * mid_channels, mid_channels) for _ in range(height - 2)]
            + [ConvBNReLU(2 * mid_channels, out_channels)]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_in = self.conv_in(x)
        skips = []
        x = x_in
        for index, encoder in enumerate(self.encoders):
            x = encoder(self.pool(x) if index > 0 else x)
            skips.append(x)
        x = self.bottom(x)
        for decoder, skip in zip(self.decoders, reversed(skips), strict=True):
            x = decoder(torch.cat([_upsample_like(x, skip), skip], dim=1))
        return x + x_in


class RSU4F(nn.Module):
    """RSU-4F: the residual U-block for the deepest stages, with dilations 1, 2, 4, 8 instead of pooling."""

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int):
        super().__init__()
        self.conv_in = ConvBNReLU(in_channels, out_channels)
        self.encoders = nn.ModuleList(
            [
                ConvBNReLU(out_channels, mid_channels, 1),
                ConvBNReLU(mid_channels, mid_channels, 2),
                ConvBNReLU(mid_channels, mid_channels, 4),
            ]
        )
        self.bottom = ConvBNReLU(mid_channels, mid_channels, 8)
        self.decoders = nn.ModuleList(
            [
                ConvBNReLU(2 * mid_channels, mid_channels, 4),
                ConvBNReLU(2 * mid_channels, mid_channels, 2),
                ConvBNReLU(2 * mid_channels, out_channels, 1),
            ]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_in = self.conv_in(x)
        skips = []
        x = x_in
        for encoder in self.encoders:
            x = encoder(x)
            skips.append(x)
        x = self.bottom(x)
        for decoder, skip in zip(self.decoders, reversed(skips), strict=True):
            x = decoder(torch.cat([x, skip], dim=1))
        return x + x_in


def _block(height: int, in_channels: int, mid_channels: int, out_channels: int) -> nn.Module:
    if height == 0:
        return RSU4F(in_channels, mid_channels, out_channels)
    return RSU(height, in_channels, mid_channels, out_channels)


class U2Net(nn.Module):
    """(N, in_channels, H, W) -> fused logits, or in training mode (fused, side_1, ..., side_6)."""

    def __init__(self, in_channels: int, out_channels: int, variant: str = "full"):
        super().__init__()
        encoder_stages, decoder_stages = _STAGES[variant]
        self.encoders = nn.ModuleList(
            _block(h, in_channels if cin is None else cin, mid, cout) for h, cin, mid, cout in encoder_stages
        )
        self.pool = _pool()
        self.decoders = nn.ModuleList(_block(*stage) for stage in decoder_stages)
        side_channels = [stage[3] for stage in reversed(decoder_stages)] + [encoder_stages[-1][3]]
        self.sides = nn.ModuleList(nn.Conv2d(c, out_channels, 3, padding=1) for c in side_channels)
        self.fuse = nn.Conv2d(len(side_channels) * out_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        skips = []
        for index, encoder in enumerate(self.encoders):
            x = encoder(self.pool(x) if index > 0 else x)
            skips.append(x)
        features = [x]  # deepest first: stage 6, then decoder stages 5d .. 1d
        for decoder, skip in zip(self.decoders, reversed(skips[:-1]), strict=True):
            x = decoder(torch.cat([_upsample_like(x, skip), skip], dim=1))
            features.append(x)
        full_size = features[-1]
        sides = [
            _upsample_like(side(f), full_size) for side, f in zip(self.sides, reversed(features), strict=True)
        ]
        fused = self.fuse(torch.cat(sides, dim=1))
        if self.training:
            return (fused, *sides)
        return fused

"""The classic U-Net (Ronneberger, Fischer & Brox 2015), with BatchNorm and padded convolutions.

Four 2x2 max-pool steps down and four steps up; each step is two 3x3 convolutions. Padding keeps the output the
size of the input (the article cropped instead). Upsampling is bilinear (channels of the deepest level halved,
17 M weights at 64 base channels) or by learned 2x2 transposed convolutions as in the article (31 M weights).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class DoubleConv(nn.Sequential):
    """(3x3 convolution, BatchNorm, ReLU) twice."""

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int | None = None):
        mid_channels = mid_channels or out_channels
        super().__init__(
            nn.Conv2d(in_channels, mid_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(mid_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class Down(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels))


class Up(nn.Module):
    """Upsample the deeper map, concatenate the skip connection, then DoubleConv."""

    def __init__(self, in_channels: int, out_channels: int, bilinear: bool):
        super().__init__()
        if bilinear:
            self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
            self.conv = DoubleConv(in_channels, out_channels, in_channels // 2)
        else:
            self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
            self.conv = DoubleConv(in_channels, out_channels)

    def forward(self, deeper: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        deeper = self.up(deeper)
        dy, dx = skip.shape[2] - deeper.shape[2], skip.shape[3] - deeper.shape[3]
        # odd sizes: pad so the maps line up (a no-op otherwise; no Python branch, so ONNX export traces it)
        deeper = F.pad(deeper, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([skip, deeper], dim=1))


class UNetClassic(nn.Module):
    """(N, in_channels, H, W) -> logits (N, out_channels, H, W); H and W multiples of 16 line up exactly."""

    def __init__(self, in_channels: int, out_channels: int, base_channels: int = 64, bilinear: bool = True):
        super().__init__()
        c = base_channels
        factor = 2 if bilinear else 1
        self.inc = DoubleConv(in_channels, c)
        self.down1 = Down(c, 2 * c)
        self.down2 = Down(2 * c, 4 * c)
        self.down3 = Down(4 * c, 8 * c)
        self.down4 = Down(8 * c, 16 * c // factor)
        self.up1 = Up(16 * c, 8 * c // factor, bilinear)
        self.up2 = Up(8 * c, 4 * c // factor, bilinear)
        self.up3 = Up(4 * c, 2 * c // factor, bilinear)
        self.up4 = Up(2 * c, c, bilinear)
        self.outc = nn.Conv2d(c, out_channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x = self.down4(x4)
        x = self.up1(x, x4)
        x = self.up2(x, x3)
        x = self.up3(x, x2)
        x = self.up4(x, x1)
        return self.outc(x)

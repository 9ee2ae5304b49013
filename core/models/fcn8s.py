"""FCN-8s (Long, Shelhamer & Darrell 2015, "Fully convolutional networks for semantic segmentation").

A VGG16 backbone (torchvision's layer names, so torchvision VGG16 weights load into `features`) whose fully
connected layers become convolutions (fc6 7x7, fc7 1x1). Class scores at 1/32 are upsampled 2x and added to scores
from pool4, upsampled 2x again and added to scores from pool3, then upsampled 8x; the upsampling layers are
learned transposed convolutions that start as bilinear interpolation, and the skip scores start at zero.
Instead of the article's 100-pixel padding and crops, the input is zero-padded to a multiple of 32 and the output
cropped back, so any input size works and the output always has the input's size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_POOL3_END = 17  # torchvision vgg16().features: pool3 is layer 16, pool4 layer 23, pool5 layer 30
_POOL4_END = 24


def _bilinear_kernel(channels: int, kernel_size: int) -> torch.Tensor:
    """Weights (channels, channels, k, k) for a transposed convolution that upsamples bilinearly per channel."""
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    steps = torch.arange(kernel_size, dtype=torch.float32)
    profile = 1 - (steps - center).abs() / factor
    weight = torch.zeros(channels, channels, kernel_size, kernel_size)
    weight[range(channels), range(channels)] = profile[:, None] * profile[None, :]
    return weight


def _upsampler(channels: int, factor: int) -> nn.ConvTranspose2d:
    layer = nn.ConvTranspose2d(channels, channels, 2 * factor, stride=factor, padding=factor // 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(_bilinear_kernel(channels, 2 * factor))
    return layer


def _zero_conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    layer = nn.Conv2d(in_channels, out_channels, 1)
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class FCN8s(nn.Module):
    """(N, in_channels, H, W) -> logits (N, out_channels, H, W) for any H and W."""

    def __init__(self, in_channels: int, out_channels: int, fc_channels: int = 4096):
        super().__init__()
        from torchvision.models import vgg

        # vgg16(weights=None).features, built without the 123 M-weight classifier that would be thrown away
        self.features = vgg.make_layers(vgg.cfgs["D"])
        if in_channels != 3:
            self.features[0] = nn.Conv2d(in_channels, 64, kernel_size=3, padding=1)
        self.fc6 = nn.Sequential(
            nn.Conv2d(512, fc_channels, 7, padding=3), nn.ReLU(inplace=True), nn.Dropout()
        )
        self.fc7 = nn.Sequential(nn.Conv2d(fc_channels, fc_channels, 1), nn.ReLU(inplace=True), nn.Dropout())
        self.score_fr = nn.Conv2d(fc_channels, out_channels, 1)
        self.score_pool4 = _zero_conv(512, out_channels)
        self.score_pool3 = _zero_conv(256, out_channels)
        self.upscore2 = _upsampler(out_channels, 2)
        self.upscore_pool4 = _upsampler(out_channels, 2)
        self.upscore8 = _upsampler(out_channels, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[2:]
        x = F.pad(x, [0, -width % 32, 0, -height % 32])
        pool3 = self.features[:_POOL3_END](x)
        pool4 = self.features[_POOL3_END:_POOL4_END](pool3)
        pool5 = self.features[_POOL4_END:](pool4)
        scores = self.upscore2(self.score_fr(self.fc7(self.fc6(pool5))))
        scores = self.upscore_pool4(scores + self.score_pool4(pool4))
        scores = self.upscore8(scores + self.score_pool3(pool3))
        return scores[:, :, :height, :width]

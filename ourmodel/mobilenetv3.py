"""MobileNetV3-Small (Howard et al., 2019) in plain torch: no torchvision needed.

Single-channel input. ``text_strides`` keeps horizontal resolution in the last
two down-sampling stages (stride (2, 1)), as text recognisers do for word images.
"""

from __future__ import annotations

import torch
from torch import nn


def _divisible(v: float, divisor: int = 8) -> int:
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        hidden = _divisible(channels // 4)
        self.fc1, self.fc2 = nn.Conv2d(channels, hidden, 1), nn.Conv2d(hidden, channels, 1)

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        return x * nn.functional.hardsigmoid(self.fc2(nn.functional.relu(self.fc1(s))))


class InvertedResidual(nn.Module):
    def __init__(self, cin, kernel, expand, cout, se, activation, stride):
        super().__init__()
        act = nn.Hardswish if activation == "HS" else nn.ReLU
        layers = []
        if expand != cin:
            layers += [nn.Conv2d(cin, expand, 1, bias=False), nn.BatchNorm2d(expand), act()]
        pad = kernel // 2
        layers += [nn.Conv2d(expand, expand, kernel, stride, pad, groups=expand, bias=False),
                   nn.BatchNorm2d(expand), act()]
        if se:
            layers.append(SqueezeExcite(expand))
        layers += [nn.Conv2d(expand, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.block(x)
        return x + y if self.residual else y


# kernel, expansion, out, squeeze-excite, activation, stride (paper's Table 2, "Small")
SMALL = [(3, 16, 16, True, "RE", 2), (3, 72, 24, False, "RE", 2), (3, 88, 24, False, "RE", 1),
         (5, 96, 40, True, "HS", 2), (5, 240, 40, True, "HS", 1), (5, 240, 40, True, "HS", 1),
         (5, 120, 48, True, "HS", 1), (5, 144, 48, True, "HS", 1), (5, 288, 96, True, "HS", 2),
         (5, 576, 96, True, "HS", 1), (5, 576, 96, True, "HS", 1)]


class MobileNetV3Small(nn.Module):
    out_channels = 576

    def __init__(self, in_channels: int = 1, text_strides: bool = True):
        super().__init__()
        layers = [nn.Conv2d(in_channels, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.Hardswish()]
        cin = 16
        for i, (k, exp, out, se, act, s) in enumerate(SMALL):
            stride = (2, 1) if text_strides and s == 2 and i >= 3 else s
            layers.append(InvertedResidual(cin, k, exp, out, se, act, stride))
            cin = out
        layers += [nn.Conv2d(cin, self.out_channels, 1, bias=False), nn.BatchNorm2d(self.out_channels),
                   nn.Hardswish()]
        self.features = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) -> (B, 576, H', W') feature map."""
        return self.features(x)

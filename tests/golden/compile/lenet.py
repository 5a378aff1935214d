"""LeNet: PyTorch modules compiled by netdsl from specs/lenet.net.

Generated code: edit the spec and recompile rather than editing this file.
Its only dependency is PyTorch."""

import torch
from torch import nn

__all__ = ["LeNet"]


class LeNet(nn.Module):
    """LeNet: 1x28x28 -> 10, 61,706 parameters at these defaults."""

    def __init__(self, num_classes=10, input_size=(1, 28, 28)):
        super().__init__()
        self.input_size = tuple(input_size)
        channels, h, w = self.input_size
        self.conv2d = nn.Conv2d(in_channels=channels, out_channels=6, kernel_size=5, padding=2)
        self.sigmoid = nn.Sigmoid()
        self.avgpool2d = nn.AvgPool2d(kernel_size=2, stride=2)
        h = (h - 2) // 2 + 1
        w = (w - 2) // 2 + 1
        self.conv2d_1 = nn.Conv2d(in_channels=6, out_channels=16, kernel_size=5)
        h = h - 4
        w = w - 4
        self.sigmoid_1 = nn.Sigmoid()
        self.avgpool2d_1 = nn.AvgPool2d(kernel_size=2, stride=2)
        h = (h - 2) // 2 + 1
        w = (w - 2) // 2 + 1
        self.flatten = nn.Flatten(start_dim=1, end_dim=-1)
        self.linear_input = (16 * h * w,)
        self.linear = nn.Linear(in_features=16 * h * w, out_features=120)
        self.sigmoid_2 = nn.Sigmoid()
        self.linear_1 = nn.Linear(in_features=120, out_features=84)
        self.sigmoid_3 = nn.Sigmoid()
        self.linear_2 = nn.Linear(in_features=84, out_features=num_classes)
        self.input_text = "×".join(map(str, self.input_size))

    def forward(self, x):
        size = x.shape
        x = self.conv2d(x)  # [6, 28, 28]
        x = self.sigmoid(x)  # [6, 28, 28]
        x = self.avgpool2d(x)  # [6, 14, 14]
        x = self.conv2d_1(x)  # [16, 10, 10]
        x = self.sigmoid_1(x)  # [16, 10, 10]
        x = self.avgpool2d_1(x)  # [16, 5, 5]
        x = self.flatten(x)  # [400]
        torch._assert(
            x.shape[1] == self.linear_input[0],
            f"LeNet was built for {self.input_text} inputs, got {size[1]}×{size[2]}×{size[3]}: "
            f"rebuild with input_size=({size[1]}, {size[2]}, {size[3]})",
        )
        x = self.linear(x)  # [120]
        x = self.sigmoid_2(x)  # [120]
        x = self.linear_1(x)  # [84]
        x = self.sigmoid_3(x)  # [84]
        x = self.linear_2(x)  # [10]
        return x

"""LeNet: PyTorch modules compiled by netdsl from specs/lenet.net.

Generated code: edit the spec and recompile rather than editing this file.
Its only dependency is PyTorch."""

import torch
from torch import nn

__all__ = ['LeNet']


class LeNet(nn.Module):
    """LeNet: 1x28x28 -> 10, 61,706 parameters."""

    def __init__(self, num_classes=10):
        super().__init__()
        if (num_classes,) != (10,):
            raise ValueError('compiled for num_classes=10; '
                             'recompile the spec for other values')
        self.conv2d = nn.Conv2d(in_channels=1, out_channels=6, kernel_size=5, padding=2)
        self.sigmoid = nn.Sigmoid()
        self.avgpool2d = nn.AvgPool2d(kernel_size=2, stride=2)
        self.conv2d_1 = nn.Conv2d(in_channels=6, out_channels=16, kernel_size=5)
        self.sigmoid_1 = nn.Sigmoid()
        self.avgpool2d_1 = nn.AvgPool2d(kernel_size=2, stride=2)
        self.flatten = nn.Flatten(start_dim=1, end_dim=-1)
        self.linear = nn.Linear(in_features=400, out_features=120)
        self.sigmoid_2 = nn.Sigmoid()
        self.linear_1 = nn.Linear(in_features=120, out_features=84)
        self.sigmoid_3 = nn.Sigmoid()
        self.linear_2 = nn.Linear(in_features=84, out_features=10)

    def forward(self, x):
        torch._assert((x.shape[2] >= 28) & (x.shape[2] <= 31) & (x.shape[3] >= 28) & (x.shape[3] <= 31),
                      'LeNet was built for 1x28x28 inputs '
                      '(its layers fit heights 28 to 31 and widths 28 to 31): recompile the spec for another size '
                      '(netdsl compile --input, or netdsl.load(spec, input_shape=...))')
        x = self.conv2d(x)  # [6, 28, 28]
        x = self.sigmoid(x)  # [6, 28, 28]
        x = self.avgpool2d(x)  # [6, 14, 14]
        x = self.conv2d_1(x)  # [16, 10, 10]
        x = self.sigmoid_1(x)  # [16, 10, 10]
        x = self.avgpool2d_1(x)  # [16, 5, 5]
        x = self.flatten(x)  # [400]
        x = self.linear(x)  # [120]
        x = self.sigmoid_2(x)  # [120]
        x = self.linear_1(x)  # [84]
        x = self.sigmoid_3(x)  # [84]
        x = self.linear_2(x)  # [10]
        return x

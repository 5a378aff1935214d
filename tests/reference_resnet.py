"""Hand-written plain-torch ResNets in torchvision's structure (no torchvision import).

The one reference the tests (strict state_dict loading, equal outputs) and the
benchmarks (baselines for forward time, build time and torchinfo) all use.
Run as a script, it is the whole-process torchinfo baseline:

    python tests/reference_resnet.py resnet18 [--verbose 0|1]
"""
from __future__ import annotations

import sys

import torch
from torch import nn

PARAMS = {"resnet18": 11_689_512, "resnet50": 25_557_032}   # torchvision's published counts


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1, inplace: bool = True):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=inplace)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = _projection(cin, planes, stride)

    def forward(self, x):
        skip = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(y)) + skip)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1, inplace: bool = True):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=inplace)
        self.downsample = _projection(cin, planes * 4, stride)

    def forward(self, x):
        skip = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        return self.relu(self.bn3(self.conv3(y)) + skip)


def _projection(cin: int, cout: int, stride: int):
    """torchvision's `downsample`: a 1×1 conv and BN where the shape changes."""
    if stride == 1 and cin == cout:
        return None
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))


class ResNet(nn.Module):
    """ReLU is in place, as torchvision has it, unless inplace=False."""

    def __init__(self, block, depths, num_classes: int = 1000, inplace: bool = True):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=inplace)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin, stages = 64, []
        for planes, blocks, stride in zip((64, 128, 256, 512), depths, (1, 2, 2, 2)):
            seq = []
            for i in range(blocks):
                seq.append(block(cin, planes, stride if i == 0 else 1, inplace))
                cin = planes * block.expansion
            stages.append(nn.Sequential(*seq))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(num_classes: int = 1000, inplace: bool = True) -> ResNet:
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes, inplace)


def resnet50(num_classes: int = 1000, inplace: bool = True) -> ResNet:
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes, inplace)


def main(argv: list[str]) -> None:
    import torchinfo
    name = argv[0] if argv else "resnet18"
    verbose = int(argv[argv.index("--verbose") + 1]) if "--verbose" in argv else 0
    model = {"resnet18": resnet18, "resnet50": resnet50}[name]()
    stats = torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=verbose)
    assert stats.total_params == PARAMS[name], stats.total_params
    print(stats.total_params)


if __name__ == "__main__":
    main(sys.argv[1:])

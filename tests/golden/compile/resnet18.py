"""ResNet18: PyTorch modules compiled by netdsl from specs/resnet18.net.

Generated code: edit the spec and recompile rather than editing this file.
Its only dependency is PyTorch."""

from torch import nn

__all__ = ["ResNet18"]


class BasicBlock(nn.Module):
    """The block BasicBlock for any values of its parameters; `in_channels`: the input's channels."""

    def __init__(self, in_channels, channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(
            in_channels=in_channels, out_channels=channels, kernel_size=3, stride=stride, padding=1, bias=False
        )
        self.bn1 = nn.BatchNorm2d(num_features=channels)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(in_channels=channels, out_channels=channels, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(num_features=channels)
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels=in_channels, out_channels=channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(num_features=channels),
            )
        else:
            self.downsample = None
        self.relu_1 = nn.ReLU()

    def forward(self, x):
        x1 = self.conv1(x)
        x1 = self.bn1(x1)
        x1 = self.relu(x1)
        x1 = self.conv2(x1)
        x1 = self.bn2(x1)
        if self.downsample is not None:
            x = self.downsample(x)
        x = x1 + x
        x = self.relu_1(x)
        return x


class ResNet18(nn.Module):
    """ResNet18: 3x224x224 -> 1000, 11,689,512 parameters at these defaults."""

    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels=3, out_channels=64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(num_features=64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = nn.Sequential(BasicBlock(64, 64), BasicBlock(64, 64))
        self.layer2 = nn.Sequential(BasicBlock(64, 128, stride=2), BasicBlock(128, 128))
        self.layer3 = nn.Sequential(BasicBlock(128, 256, stride=2), BasicBlock(256, 256))
        self.layer4 = nn.Sequential(BasicBlock(256, 512, stride=2), BasicBlock(512, 512))
        self.avgpool = nn.AdaptiveAvgPool2d(output_size=(1, 1))
        self.flatten = nn.Flatten(start_dim=1, end_dim=-1)
        self.fc = nn.Linear(in_features=512, out_features=num_classes)

    def forward(self, x):
        x = self.conv1(x)  # [64, 112, 112]
        x = self.bn1(x)  # [64, 112, 112]
        x = self.relu(x)  # [64, 112, 112]
        x = self.maxpool(x)  # [64, 56, 56]
        x = self.layer1(x)  # [64, 56, 56]
        x = self.layer2(x)  # [128, 28, 28]
        x = self.layer3(x)  # [256, 14, 14]
        x = self.layer4(x)  # [512, 7, 7]
        x = self.avgpool(x)  # [512, 1, 1]
        x = self.flatten(x)  # [512]
        x = self.fc(x)  # [1000]
        return x

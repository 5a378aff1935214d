"""ResNet18: PyTorch modules compiled by netdsl from specs/resnet18.net.

Generated code: edit the spec and recompile rather than editing this file.
Its only dependency is PyTorch."""

from torch import nn

__all__ = ['ResNet18']


class BasicBlock(nn.Module):
    """BasicBlock(channels=64, stride=1) on a 64x56x56 input -> 64x56x56."""

    def __init__(self, channels, stride=1):
        super().__init__()
        if (channels, stride) != (64, 1):
            raise ValueError('compiled for channels=64, stride=1; '
                             'recompile the spec for other values')
        self.conv1 = nn.Conv2d(in_channels=64, out_channels=64, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(num_features=64)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(in_channels=64, out_channels=64, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(num_features=64)
        self.relu_1 = nn.ReLU()

    def forward(self, x):
        x1 = self.conv1(x)  # [64, 56, 56]
        x1 = self.bn1(x1)  # [64, 56, 56]
        x1 = self.relu(x1)  # [64, 56, 56]
        x1 = self.conv2(x1)  # [64, 56, 56]
        x1 = self.bn2(x1)  # [64, 56, 56]
        x = x1 + x  # [64, 56, 56]
        x = self.relu_1(x)  # [64, 56, 56]
        return x


class BasicBlock_2(nn.Module):
    """BasicBlock(channels=128, stride=2) on a 64x56x56 input -> 128x28x28."""

    def __init__(self, channels, stride=1):
        super().__init__()
        if (channels, stride) != (128, 2):
            raise ValueError('compiled for channels=128, stride=2; '
                             'recompile the spec for other values')
        self.conv1 = nn.Conv2d(in_channels=64, out_channels=128, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(num_features=128)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(in_channels=128, out_channels=128, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(num_features=128)
        self.downsample = nn.Sequential(
            nn.Conv2d(in_channels=64, out_channels=128, kernel_size=1, stride=2, bias=False),
            nn.BatchNorm2d(num_features=128),
        )
        self.relu_1 = nn.ReLU()

    def forward(self, x):
        x1 = self.conv1(x)  # [128, 28, 28]
        x1 = self.bn1(x1)  # [128, 28, 28]
        x1 = self.relu(x1)  # [128, 28, 28]
        x1 = self.conv2(x1)  # [128, 28, 28]
        x1 = self.bn2(x1)  # [128, 28, 28]
        x = self.downsample(x)  # [128, 28, 28]
        x = x1 + x  # [128, 28, 28]
        x = self.relu_1(x)  # [128, 28, 28]
        return x


class BasicBlock_3(nn.Module):
    """BasicBlock(channels=128, stride=1) on a 128x28x28 input -> 128x28x28."""

    def __init__(self, channels, stride=1):
        super().__init__()
        if (channels, stride) != (128, 1):
            raise ValueError('compiled for channels=128, stride=1; '
                             'recompile the spec for other values')
        self.conv1 = nn.Conv2d(in_channels=128, out_channels=128, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(num_features=128)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(in_channels=128, out_channels=128, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(num_features=128)
        self.relu_1 = nn.ReLU()

    def forward(self, x):
        x1 = self.conv1(x)  # [128, 28, 28]
        x1 = self.bn1(x1)  # [128, 28, 28]
        x1 = self.relu(x1)  # [128, 28, 28]
        x1 = self.conv2(x1)  # [128, 28, 28]
        x1 = self.bn2(x1)  # [128, 28, 28]
        x = x1 + x  # [128, 28, 28]
        x = self.relu_1(x)  # [128, 28, 28]
        return x


class BasicBlock_4(nn.Module):
    """BasicBlock(channels=256, stride=2) on a 128x28x28 input -> 256x14x14."""

    def __init__(self, channels, stride=1):
        super().__init__()
        if (channels, stride) != (256, 2):
            raise ValueError('compiled for channels=256, stride=2; '
                             'recompile the spec for other values')
        self.conv1 = nn.Conv2d(in_channels=128, out_channels=256, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(num_features=256)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(in_channels=256, out_channels=256, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(num_features=256)
        self.downsample = nn.Sequential(
            nn.Conv2d(in_channels=128, out_channels=256, kernel_size=1, stride=2, bias=False),
            nn.BatchNorm2d(num_features=256),
        )
        self.relu_1 = nn.ReLU()

    def forward(self, x):
        x1 = self.conv1(x)  # [256, 14, 14]
        x1 = self.bn1(x1)  # [256, 14, 14]
        x1 = self.relu(x1)  # [256, 14, 14]
        x1 = self.conv2(x1)  # [256, 14, 14]
        x1 = self.bn2(x1)  # [256, 14, 14]
        x = self.downsample(x)  # [256, 14, 14]
        x = x1 + x  # [256, 14, 14]
        x = self.relu_1(x)  # [256, 14, 14]
        return x


class BasicBlock_5(nn.Module):
    """BasicBlock(channels=256, stride=1) on a 256x14x14 input -> 256x14x14."""

    def __init__(self, channels, stride=1):
        super().__init__()
        if (channels, stride) != (256, 1):
            raise ValueError('compiled for channels=256, stride=1; '
                             'recompile the spec for other values')
        self.conv1 = nn.Conv2d(in_channels=256, out_channels=256, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(num_features=256)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(in_channels=256, out_channels=256, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(num_features=256)
        self.relu_1 = nn.ReLU()

    def forward(self, x):
        x1 = self.conv1(x)  # [256, 14, 14]
        x1 = self.bn1(x1)  # [256, 14, 14]
        x1 = self.relu(x1)  # [256, 14, 14]
        x1 = self.conv2(x1)  # [256, 14, 14]
        x1 = self.bn2(x1)  # [256, 14, 14]
        x = x1 + x  # [256, 14, 14]
        x = self.relu_1(x)  # [256, 14, 14]
        return x


class BasicBlock_6(nn.Module):
    """BasicBlock(channels=512, stride=2) on a 256x14x14 input -> 512x7x7."""

    def __init__(self, channels, stride=1):
        super().__init__()
        if (channels, stride) != (512, 2):
            raise ValueError('compiled for channels=512, stride=2; '
                             'recompile the spec for other values')
        self.conv1 = nn.Conv2d(in_channels=256, out_channels=512, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(num_features=512)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(in_channels=512, out_channels=512, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(num_features=512)
        self.downsample = nn.Sequential(
            nn.Conv2d(in_channels=256, out_channels=512, kernel_size=1, stride=2, bias=False),
            nn.BatchNorm2d(num_features=512),
        )
        self.relu_1 = nn.ReLU()

    def forward(self, x):
        x1 = self.conv1(x)  # [512, 7, 7]
        x1 = self.bn1(x1)  # [512, 7, 7]
        x1 = self.relu(x1)  # [512, 7, 7]
        x1 = self.conv2(x1)  # [512, 7, 7]
        x1 = self.bn2(x1)  # [512, 7, 7]
        x = self.downsample(x)  # [512, 7, 7]
        x = x1 + x  # [512, 7, 7]
        x = self.relu_1(x)  # [512, 7, 7]
        return x


class BasicBlock_7(nn.Module):
    """BasicBlock(channels=512, stride=1) on a 512x7x7 input -> 512x7x7."""

    def __init__(self, channels, stride=1):
        super().__init__()
        if (channels, stride) != (512, 1):
            raise ValueError('compiled for channels=512, stride=1; '
                             'recompile the spec for other values')
        self.conv1 = nn.Conv2d(in_channels=512, out_channels=512, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(num_features=512)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(in_channels=512, out_channels=512, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(num_features=512)
        self.relu_1 = nn.ReLU()

    def forward(self, x):
        x1 = self.conv1(x)  # [512, 7, 7]
        x1 = self.bn1(x1)  # [512, 7, 7]
        x1 = self.relu(x1)  # [512, 7, 7]
        x1 = self.conv2(x1)  # [512, 7, 7]
        x1 = self.bn2(x1)  # [512, 7, 7]
        x = x1 + x  # [512, 7, 7]
        x = self.relu_1(x)  # [512, 7, 7]
        return x


class ResNet18(nn.Module):
    """ResNet18: 3x224x224 -> 1000, 11,689,512 parameters."""

    def __init__(self, num_classes=1000):
        super().__init__()
        if (num_classes,) != (1000,):
            raise ValueError('compiled for num_classes=1000; '
                             'recompile the spec for other values')
        self.conv1 = nn.Conv2d(in_channels=3, out_channels=64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(num_features=64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = nn.Sequential(
            BasicBlock(channels=64),
            BasicBlock(channels=64),
        )
        self.layer2 = nn.Sequential(
            BasicBlock_2(channels=128, stride=2),
            BasicBlock_3(channels=128),
        )
        self.layer3 = nn.Sequential(
            BasicBlock_4(channels=256, stride=2),
            BasicBlock_5(channels=256),
        )
        self.layer4 = nn.Sequential(
            BasicBlock_6(channels=512, stride=2),
            BasicBlock_7(channels=512),
        )
        self.avgpool = nn.AdaptiveAvgPool2d(output_size=(1, 1))
        self.flatten = nn.Flatten(start_dim=1, end_dim=-1)
        self.fc = nn.Linear(in_features=512, out_features=1000)

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

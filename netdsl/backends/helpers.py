"""Module classes the catalogue names that torch.nn lacks (LayerSpec.torch returns
their name): the generated file defines each one it uses, so it still imports
nothing but torch. Each is plain, hand-written PyTorch; `{name}` is replaced by the
class name the file gives it (netdsl/namespace.py's ClassNames may rename it)."""
from __future__ import annotations

HELPERS = {
    "CenterCrop": '''
class {name}(nn.Module):
    """Crops height and width around the centre; an odd excess loses its extra row/column at the end."""

    def __init__(self, size):
        super().__init__()
        self.size = (int(size[0]), int(size[1]))

    def forward(self, x):
        top = (x.shape[-2] - self.size[0]) // 2
        left = (x.shape[-1] - self.size[1]) // 2
        return x[..., top : top + self.size[0], left : left + self.size[1]]
''',
    # center_crop(size=@t): the size comes from another tensor at run time, as hand-written U-Nets do
    "CenterCropLike": '''
class {name}(nn.Module):
    """Crops height and width around the centre to those of `like`, read at run time."""

    def forward(self, x, like):
        h, w = like.shape[-2], like.shape[-1]
        top = (x.shape[-2] - h) // 2
        left = (x.shape[-1] - w) // 2
        return x[..., top : top + h, left : left + w]
''',
    # torchvision.ops.StochasticDepth (ops/stochastic_depth.py), with its checks and its repr.
    "StochasticDepth": '''
class {name}(nn.Module):
    """Stochastic depth (torchvision.ops.StochasticDepth): in training, zeroes the input of a sample ("row") or of
    the whole batch ("batch") with probability p and divides the rest by 1 - p; the identity in eval or at p = 0."""

    def __init__(self, p, mode="row"):
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, x):
        if self.p < 0.0 or self.p > 1.0:
            raise ValueError("drop probability has to be between 0 and 1, but got " + str(self.p))
        if self.mode not in ("batch", "row"):
            raise ValueError("mode has to be either 'batch' or 'row', but got " + str(self.mode))
        if not self.training or self.p == 0.0:
            return x
        survival_rate = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival_rate)
        if survival_rate > 0.0:
            noise.div_(survival_rate)
        return x * noise

    def __repr__(self):
        return self.__class__.__name__ + "(p=" + str(self.p) + ", mode=" + str(self.mode) + ")"
''',
    # torchvision.ops.Permute (ops/misc.py): the dims count the batch.
    "Permute": '''
class {name}(nn.Module):
    """Permutes the dims of its input (torchvision.ops.Permute); dims include the batch, dim 0."""

    def __init__(self, dims):
        super().__init__()
        self.dims = list(dims)

    def forward(self, x):
        return torch.permute(x, self.dims)
''',
    # torchvision.models.convnext.LayerNorm2d: an nn.LayerNorm, so its keys are weight and bias, shape (C,).
    "LayerNorm2d": '''
class {name}(nn.LayerNorm):
    """LayerNorm over the channels of an (N, C, H, W) tensor at each position (torchvision's LayerNorm2d)."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)
''',
}

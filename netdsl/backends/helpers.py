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
        return x[..., top:top + self.size[0], left:left + self.size[1]]
''',
}

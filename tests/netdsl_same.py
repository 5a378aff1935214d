"""The comparison the code generation tests make between two emitters' modules (tests/
is on sys.path under pytest): the same state_dict keys and shapes, and, under the same
weights, exactly the same outputs."""
from __future__ import annotations

import torch


def same_keys(mine, ref) -> None:
    a, b = mine.state_dict(), ref.state_dict()
    assert [(k, tuple(v.shape)) for k, v in a.items()] == [(k, tuple(v.shape)) for k, v in b.items()]


def same_modules(mine, ref, x, perturb: bool = True):
    """`mine` has `ref`'s keys and shapes and, loaded with `ref`'s weights (made positive
    and random unless not `perturb`: BatchNorm's running variances must stay positive,
    and deep networks overflow with them), gives exactly its outputs on `x` (a dict of
    outputs key by key; a shape: a random input drawn after the weights, from the same
    seed). Returns `mine`'s outputs."""
    same_keys(mine, ref)
    ref_sd = ref.state_dict()
    torch.manual_seed(0)
    for v in ref_sd.values():
        if v.is_floating_point() and perturb:
            v.copy_(torch.rand_like(v) + 0.5)
    if isinstance(x, tuple):
        x = torch.randn(*x)
    mine.load_state_dict(ref_sd)
    mine.eval()
    ref.eval()
    with torch.no_grad():
        a, b = mine(x), ref(x)
    if isinstance(b, dict):
        assert a.keys() == b.keys()
        for k in b:
            torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    else:
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    return a

"""The layer catalogue: one LayerSpec per layer kind, looked up by DSL name."""
from __future__ import annotations

from . import activation, conv, layout, merge, norm, pool, reshape, state
from .spec import REQUIRED, LayerSpec, Param, TypeMismatch

LAYERS: dict[str, LayerSpec] = {}
ALIASES: dict[str, str] = {}
for _module in (conv, pool, norm, activation, reshape, layout, merge, state):
    for _spec in _module.LAYERS:
        assert _spec.name not in LAYERS, _spec.name
        LAYERS[_spec.name] = _spec
        for _alias in _spec.aliases:
            ALIASES[_alias] = _spec.name


def lookup(name: str) -> LayerSpec | None:
    spec = LAYERS.get(name)
    if spec is None and name in ALIASES:
        spec = LAYERS[ALIASES[name]]
    return spec


__all__ = ["LAYERS", "ALIASES", "lookup", "LayerSpec", "Param", "REQUIRED", "TypeMismatch"]

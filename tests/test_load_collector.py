"""netdsl.load pauses Python's cyclic garbage collector while it checks, generates and
compiles (build.load); it must hand the collector back as it found it, whatever happens."""
from __future__ import annotations

import gc

import pytest

pytest.importorskip("torch")

import netdsl  # noqa: E402
from netdsl.backends import build  # noqa: E402

GOOD = "network N {\n    input [4]\n    linear(2)\n}\n"
BAD = "network N {\n    input [4]\n    linear(0)\n}\n"


@pytest.fixture(autouse=True)
def restore_collector():
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


def test_load_leaves_the_collector_enabled():
    build._COMPILED.clear()
    gc.enable()
    netdsl.load(GOOD)
    assert gc.isenabled()


def test_a_spec_error_leaves_the_collector_enabled():
    gc.enable()
    with pytest.raises(netdsl.SpecError):
        netdsl.load(BAD)
    assert gc.isenabled()


def test_load_does_not_enable_a_collector_the_caller_disabled():
    build._COMPILED.clear()
    gc.disable()
    netdsl.load(GOOD)
    assert not gc.isenabled()

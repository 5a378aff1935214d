"""Fixtures shared by several test modules. Nothing here is autouse: a module asks
for what it needs (`pytestmark = pytest.mark.usefixtures("cache_dir")`)."""
from __future__ import annotations

import pytest


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """An empty per-user cache folder (NETDSL_CACHE_DIR) for this test alone, so that what
    one test stores never serves another."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("NETDSL_CACHE_DIR", str(folder))
    return folder

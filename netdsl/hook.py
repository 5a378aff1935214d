"""`import netdsl.hook`: let `import name` find `name.net` on sys.path.

The public entry point of the import hook; the finder and loader live in
netdsl/backends/hook.py. Importing this module installs the hook.
"""
from __future__ import annotations

from .backends.hook import SpecFinder, SpecLoader, install, uninstall

install()

__all__ = ["SpecFinder", "SpecLoader", "install", "uninstall"]

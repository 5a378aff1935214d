"""Compare a zoo spec with the torchvision reference data it claims.

    python3 tools/zoo_compare.py specs/efficientnet_b0.net [--static]

Prints every difference tests/test_zoo_reference.py would report (parameters,
MACs, smallest size, then the compiled state_dict, buffers and outputs, with the
first stage that diverges) for each `# reference:` line of the spec; exit 1 if
there are any. `--static` skips the torch checks.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]   # runs from a checkout, installed or not
import zoo_reference  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", type=Path)
    parser.add_argument("--static", action="store_true", help="skip the checks that need torch")
    args = parser.parse_args()
    claims = [c for c in zoo_reference.claims(args.spec.parent) if c[0].resolve() == args.spec.resolve()]
    if not claims:
        print(f"{args.spec}: no `# reference: NAME` line", file=sys.stderr)
        return 2
    failed = False
    for spec, name, params in claims:
        found = zoo_reference.problems(spec, name, params, with_torch=not args.static)
        print(f"{name} {params or ''}: {'ok' if not found else ''}")
        for p in found:
            print(f"  {p}")
        failed |= bool(found)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""`netdsl sizes` and `netdsl check --input` agree (issue 14, requirement 5): a size the
scan accepts checks with no error, a size it rejects checks with an error of the code
it names, and the warnings it lists beside an accepted size are warnings of check.
And where torch is at hand, an accepted size runs: lost rows are warnings, not errors."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

import netdsl
from netdsl.backends.sizes import scan
from netdsl.program import load_path

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.net"))
HI = 512


def samples(sizes: list, rng: random.Random, k: int = 4) -> list:
    """Both ends and a few from between."""
    if len(sizes) <= k + 2:
        return list(sizes)
    return sorted({sizes[0], sizes[-1], *rng.sample(sizes[1:-1], k)})


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_sizes_and_check_agree_on_the_zoo(path):
    program = load_path(str(path))
    network = program.own_networks[0]
    s = scan(program, network, None, 1, HI)
    assert s.stopped is None
    assert sorted(s.accepted + list(s.rejected)) == list(range(1, HI + 1))
    rng = random.Random(path.stem)
    warned = sorted(s.warned)
    accepted = samples(s.accepted, rng) + samples(warned, rng, 2)
    if s.declared_ok:
        accepted.append(s.declared_size)
    for n in sorted(set(accepted)):
        result = netdsl.check(str(path), input_shape=s.shape(n))
        assert result.errors == [], (n, [d.message for d in result.errors])
        assert {w.code for w in s.warned.get(n, ())} <= {d.code for d in result.warnings}, n
    rejected = sorted(s.rejected)
    picked = samples(rejected, rng) + ([s.smallest - 1] if s.smallest and s.smallest > 1 else [])
    for n in sorted(set(picked)):
        result = netdsl.check(str(path), input_shape=s.shape(n))
        assert s.rejected[n].code in {d.code for d in result.errors}, (n, s.rejected[n])


def test_vgg_lost_rows_are_warnings_beside_the_sizes():
    # The example: VGG showed "every 32 from 32" though torch runs every size
    # from 32 (its adaptive pooling takes whatever the five 2x2 poolings leave).
    s = netdsl.sizes(str(ROOT / "specs" / "vgg11.net"), max=200)
    assert s.accepted == list(range(32, 201))
    # no rows lost where five halvings divide the size
    assert [n for n in s.accepted if all(w.code != "W0401" for w in s.warned.get(n, ()))] == \
        [32, 64, 96, 128, 160, 192]
    # 33: the first pooling's input (33) drops a row
    assert (s.warned[33][0].code, s.warned[33][0].layer) == ("W0401", "features.2")
    # the literal `expect [512, 7, 7]` is written for 224: below it, it says so, as a warning
    assert all(s.warned[n][-1].code == "W0406" for n in s.accepted)
    assert s.warned[100][-1].message == "`expect [512, 7, 7]` is written for the declared input 3×224×224"
    text = str(s)
    assert "accepted (169): 32–200" in text
    assert "runs, but features.2 warns (W0401, 84): every 2 from 33 to 199" in text
    # the literal expect is one note, and does not count against "without warnings"
    assert "  without warnings (6): every 32 from 32 to 192" in text
    assert ("  note: `expect [512, 7, 7]` is written for the declared input 3×224×224, so at other sizes it is "
            "not checked (expect at line 16;") in text
    assert "warns (W0406" not in text


@pytest.mark.parametrize("size", [31, 32, 33, 47, 63, 100])
def test_torch_runs_the_vgg_sizes_sizes_accepts(size):
    torch = pytest.importorskip("torch")
    spec = str(ROOT / "specs" / "vgg11.net")
    accepted = size in netdsl.sizes(spec, min=size, max=size).accepted
    assert accepted == (size >= 32)
    with torch.device("meta"):
        model = netdsl.load(spec)
    x = torch.empty(1, 3, size, size, device="meta")
    if accepted:
        assert tuple(model(x).shape) == (1, 1000)
    else:
        with pytest.raises(RuntimeError):
            model(x)

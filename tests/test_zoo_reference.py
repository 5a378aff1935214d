"""Every zoo spec that claims torchvision reference data (`# reference: NAME` in
its header, see tests/zoo_reference.py) matches it: torchvision's parameter count,
MACs within 3%, its smallest input size, and, compiled, the state_dict's keys,
shapes and order, the buffers, and the outputs to 1e-5 under the same
deterministic weights. The reference JSON was written by
tools/torchvision_reference.py beside torchvision; nothing here imports it."""
from __future__ import annotations

import pytest
import zoo_reference  # tests/ is on sys.path under pytest

CLAIMS = zoo_reference.claims()


def _id(claim):
    return claim[1]


def test_claims_name_existing_reference_files_once():
    names = [name for _, name, _ in CLAIMS]
    assert len(names) == len(set(names)), names
    for spec, name, _ in CLAIMS:
        assert (zoo_reference.REFERENCE / f"{name}.json").is_file(), f"{spec.name} claims {name}"


@pytest.mark.parametrize("claim", CLAIMS, ids=_id)
def test_spec_counts_and_sizes_match_torchvision(claim):
    spec, name, params = claim
    assert zoo_reference.static_problems(spec, zoo_reference.reference(name), params) == []


@pytest.mark.parametrize("claim", CLAIMS, ids=_id)
def test_compiled_spec_is_torchvision_s_model(claim):
    pytest.importorskip("torch")
    spec, name, params = claim
    assert zoo_reference.module_problems(spec, zoo_reference.reference(name), params) == []


def test_readme_zoo_table_lists_every_spec_with_its_numbers():
    """The README's zoo table is what `check` says of each spec, and names the claims."""
    import re

    from netdsl import check_file

    root = zoo_reference.REFERENCE.parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    rows = {m[0]: m for m in re.findall(r"^\| (\w+\.net)[^|]* \| (\S+) → (\S+) \| ([\d,]+) \| ([^|]*) \|$",
                                          readme, re.MULTILINE)}
    specs = sorted((root / "specs").glob("*.net"))
    assert sorted(rows) == [p.name for p in specs]
    for path in specs:
        g = check_file(str(path)).graph()
        _, shown_in, shown_out, shown_params, refs = rows[path.name]
        assert shown_in == "×".join(map(str, g.input_shape)), path.name
        assert shown_out == "×".join(map(str, g.output_shape)), path.name
        assert int(shown_params.replace(",", "")) == g.total_params, path.name
        claimed = {name for spec, name, _ in CLAIMS if spec.resolve() == path.resolve()}
        assert set(re.findall(r"`(\w+)`", refs)) == claimed, path.name

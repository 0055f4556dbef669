"""Every paper's notebook follows the contract, and its golden smoke copy is up to date.

The golden copies in tests/notebooks/ are re-executed by nbval (`make test-notebooks`), which
compares the cells marked `# NBVAL_CHECK_OUTPUT`; these tests make sure the goldens still hold the
current notebook code and the current smoke parameters (else: `make golden`).
"""
from pathlib import Path

import jupytext
import nbformat
import pytest

from medadv_lib.specs import PRESETS, notebook_parameters, resolve_parameters
from medadv_lib.papers import papers
from medadv_lib.running.runner import _parameters_source

GOLDEN = Path(__file__).parent / "notebooks"
PAPERS = list(papers())


def _code_cells(nb):
    return [c.source.strip() for c in nb.cells
            if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])
            and "injected-parameters" not in c.metadata.get("tags", [])]


def test_every_paper_is_in_the_book_toc():
    toc = (GOLDEN.parents[1] / "_toc.yml").read_text()
    for name in PAPERS:
        assert f"book/notebooks/{name}" in toc


@pytest.mark.parametrize("name", PAPERS)
def test_notebook_contract(name):
    spec = papers()[name]
    params = notebook_parameters(spec)
    for common in ("preset", "seed", "device", "data_root"):
        assert common in params, f"{name}: parameter {common!r} missing"
    assert params["preset"] == "default"
    for preset in PRESETS:
        resolve_parameters(spec, preset)          # every preset is valid
    source = spec.notebook.read_text()
    assert "# NBVAL_CHECK_OUTPUT" in source
    assert "data_banner" in source, "every chapter states which data its numbers come from"


@pytest.mark.parametrize("name", PAPERS)
def test_golden_smoke_notebook_is_current(name):
    spec = papers()[name]
    golden = GOLDEN / f"{name}.ipynb"
    assert golden.is_file(), f"no golden {golden}: run `make golden`"
    gold = nbformat.read(golden, as_version=4)
    assert _code_cells(gold) == _code_cells(jupytext.read(spec.notebook)), \
        f"{golden} is stale (notebook code changed): run `make golden` and review the diff"
    params_cell = next(c for c in gold.cells if "parameters" in c.metadata.get("tags", []))
    assert params_cell.source == _parameters_source(resolve_parameters(spec, "smoke"), "smoke"), \
        f"{golden} was not made with the current smoke preset: run `make golden`"
    errors = [o for c in gold.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors


def _logic_lines(source: str) -> int:
    return sum(1 for line in source.splitlines() if line.strip() and not line.strip().startswith("#"))


@pytest.mark.parametrize("name", PAPERS)
def test_notebook_reads_like_a_method_section(name):
    """Code cells are short library calls (at most 15 lines, the parameters cell aside) and never
    check parameters themselves (the paper's spec does that before papermill)."""
    nb = jupytext.read(papers()[name].notebook)
    for cell in nb.cells:
        if cell.cell_type != "code" or "parameters" in cell.metadata.get("tags", []):
            continue
        first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
        assert _logic_lines(cell.source) <= 15, f"{name}: a code cell of {_logic_lines(cell.source)} lines ({first!r})"
        assert "raise " not in cell.source, f"{name}: a notebook cell raises ({first!r}); check in the spec"
        assert "def " not in cell.source, f"{name}: a notebook cell defines a function ({first!r}); it belongs in the library"


def test_listing_the_papers_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys; from medadv_lib.cli import main; main(['list']); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False", "medadv list imported torch"


REAL_GOLDENS = sorted(p.stem for p in GOLDEN.glob("*--*.ipynb"))


def test_one_golden_per_real_dataset():
    """nbval replays one smoke run on each real dataset of the collection (Makefile REAL_GOLDENS)."""
    from medadv_lib.data.registry import DATASETS

    covered = {stem.split("--", 1)[1] for stem in REAL_GOLDENS}
    real = {name for name, d in DATASETS.items() if not d.synthetic
            and any(name in spec.datasets for spec in papers().values())}
    assert real <= covered, f"no real-data golden for {sorted(real - covered)}: see REAL_GOLDENS in the Makefile"
    makefile = (GOLDEN.parents[1] / "Makefile").read_text()
    for stem in REAL_GOLDENS:
        assert stem.replace("--", ":") in makefile, f"{stem} is not made by `make golden`"


@pytest.mark.parametrize("stem", REAL_GOLDENS)
def test_real_data_golden_is_current(stem):
    from conftest import shared_or_skip

    from medadv_lib.data.registry import find_data

    name, dataset = stem.split("--", 1)
    found = find_data(shared_or_skip("data"))
    spec = papers()[name]
    gold = nbformat.read(GOLDEN / f"{stem}.ipynb", as_version=4)
    assert _code_cells(gold) == _code_cells(jupytext.read(spec.notebook)), \
        f"{stem} is stale (notebook code changed): run `make golden` and review the diff"
    params = resolve_parameters(spec, "smoke", {"dataset": dataset, "data_root": str(found[dataset])})
    params_cell = next(c for c in gold.cells if "parameters" in c.metadata.get("tags", []))
    assert params_cell.source == _parameters_source(params, "smoke"), \
        f"{stem} was not made with the current smoke preset: run `make golden`"
    assert "data_root = '../shared/data/" in params_cell.source   # relative: replays from any checkout


@pytest.mark.parametrize("stem", sorted(p.stem for p in GOLDEN.glob("*.ipynb")))
def test_golden_decides_what_its_chapter_declares(stem):
    """Issue 29, item 7: every golden decides at least one claim, those its chapter's spec declares
    (``PaperSpec.smoke_decides``), so that nbval, which compares the printed claims, replays a
    decided verdict end to end and not only *cannot be tested*. The one exception is a real dataset
    the spec names in ``smoke_undecided``, with its reason; its golden then decides nothing."""
    from medadv_lib.verdicts import INCONCLUSIVE, UNTESTED
    from medadv_lib.verdicts.records import read_claims_outputs

    name, _, dataset = stem.partition("--")
    dataset = dataset or "synthetic"
    spec = papers()[name]
    declared = spec.smoke_decides.get(dataset, ())
    verdicts = {c["id"]: c["verdict"] for block in read_claims_outputs(nbformat.read(GOLDEN / f"{stem}.ipynb", 4), stem)
                for c in block["claims"]}
    decided = sorted(cid for cid, verdict in verdicts.items() if verdict not in (INCONCLUSIVE, UNTESTED))
    if dataset in spec.smoke_undecided:
        assert dataset != "synthetic", f"{name}: a synthetic golden must decide a claim (smoke_undecided)"
        assert not declared and not decided, \
            f"{stem} is declared undecided ({spec.smoke_undecided[dataset]}) but decides {decided}: declare them"
        return
    assert declared, f"{name} declares no claim its smoke preset decides on {dataset} (PaperSpec.smoke_decides)"
    unknown = set(declared) - set(verdicts)
    assert not unknown, f"{stem}: smoke_decides names claims the page does not check: {sorted(unknown)}"
    undecided = {cid: verdicts[cid] for cid in declared if verdicts[cid] in (INCONCLUSIVE, UNTESTED)}
    assert not undecided, f"{stem}: declared decided at the smoke preset, but: {undecided}"

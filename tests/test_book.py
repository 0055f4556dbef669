"""The book build fails on broken references; the status page carries each run's provenance."""
import shutil
import subprocess
from pathlib import Path

import pytest

from medadv_lib.book import build as book
from medadv_lib.specs import PaperSpec
from medadv_lib.running.runner import run_notebook

REPO = Path(__file__).resolve().parents[1]
MINI = PaperSpec(name="mini", title="Mini notebook", citation="-",
                 source=Path(__file__).parent / "fixtures" / "mini.py")


@pytest.fixture(scope="module")
def mini_book(tmp_path_factory):
    root = tmp_path_factory.mktemp("book")
    shutil.copy(REPO / "_config.yml", root / "_config.yml")
    (root / "book").mkdir()
    shutil.copytree(REPO / "book" / "_ext", root / "book" / "_ext")
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n"
                                   "  - file: book/notebooks/mini\n  - file: book/status\n")
    run_notebook(MINI, "smoke", {}, root / "book" / "notebooks", progress=False)
    return root


@pytest.mark.slow
def test_status_page_and_build(mini_book, monkeypatch):
    monkeypatch.setattr(book, "papers", lambda: {"mini": MINI})
    page = book.write_status_page(mini_book / "book" / "notebooks", mini_book / "book" / "status.md")
    text = page.read_text()
    assert "| [mini](notebooks/mini.ipynb) | smoke | synthetic (embedded default) | 0 |" in text
    assert "torch" in text and "`n=3`" in text
    (mini_book / "book" / "intro.md").write_text("# Intro\n\nSee {doc}`notebooks/mini`.\n")
    ok = subprocess.run(book.jupyter_book_command(mini_book), capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr[-2000:]
    html = (mini_book / "_build" / "html" / "book" / "notebooks" / "mini.html").read_text()
    assert "injected-parameters" not in html and "Parameters of this run" in html

    (mini_book / "book" / "intro.md").write_text("# Intro\n\nSee {doc}`notebooks/missing`.\n")
    broken = subprocess.run(book.jupyter_book_command(mini_book), capture_output=True, text=True)
    assert broken.returncode != 0
    assert "unknown document" in broken.stdout + broken.stderr


def _claims_notebook(chapter, run, verdicts):
    import nbformat

    from medadv_lib.verdicts import CLAIMS_MIME

    records = [{"id": f"c{i}", "chapter": chapter, "run": run, "claim": f"claim {i}", "where": "Sec. 1",
                "paper_evidence": "p", "paper_verdict": "stated", "thresholds": {}, "verdict": v,
                "label": v if v != "inconclusive" else "inconclusive at n = 5", "evidence": f"e{i}", "n": 5,
                "premises": [{"name": "fair stand-in", "met": v != "cannot be tested", "evidence": "x"}],
                "preset": "default", "fidelity": "reduced: image_size 64 (paper preset 224)"}
               for i, v in enumerate(verdicts)]
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("claims_report(...)")
    cell.outputs = [nbformat.v4.new_output("display_data", data={
        CLAIMS_MIME: {"chapter": chapter, "run": run, "headline": f"{chapter} on {run}", "claims": records},
        "text/plain": "claims"})]
    nb.cells.append(cell)
    return nb


def test_scoreboard_one_row_per_claim_one_column_per_run_in_book_order(tmp_path):
    import nbformat

    from medadv_lib.book.build import write_scoreboard

    notebooks = {"backdoor": ("backdoor", "synthetic", ["holds", "not reproduced at this scale"]),
                 "backdoor--nih-cxr14": ("backdoor", "nih-cxr14", ["inconclusive", "holds"]),
                 "uap-covidnet": ("uap-covidnet", "synthetic", ["holds"]),
                 "smia.failed": ("smia", "synthetic", ["holds"])}          # a failed run is not counted
    for stem, args in notebooks.items():
        nbformat.write(_claims_notebook(*args), tmp_path / f"{stem}.ipynb")
    board, summary = tmp_path / "scoreboard.md", tmp_path / "summary.md"
    write_scoreboard(tmp_path, board, summary)
    rows = [line for line in board.read_text().splitlines() if line.startswith("| claim ")
            or line.startswith("| claim 0") or line.startswith("| claim 1")]
    assert "verdict: synthetic | verdict: nih-cxr14" in rows[0]
    assert len(rows) == 1 + 3                       # uap c0; backdoor c0, c1 (one row each, two runs)
    # the verdicts stand next to the claim (no horizontal scroll to find them)
    assert rows[1].startswith("| claim 0 | holds, 1 seed | not run | [uap-covidnet]")
    assert rows[2].startswith("| claim 0 | holds, 1 seed | inconclusive at n = 5, 1 seed | [backdoor]")
    lines = summary.read_text().splitlines()[2:]
    assert [line.split("|")[2].strip() for line in lines] == ["synthetic", "synthetic", "nih-cxr14"]
    assert "uap-covidnet" in lines[0] and "1: 1 holds (default)" in lines[0]
    assert "2: 1 holds, 1 not reproduced at this scale (default)" in lines[1]
    assert "2: 1 holds, 1 inconclusive (default)" in lines[2]
    text = board.read_text()
    # the counts by kind per run, with preset and fidelity
    assert "| {doc}`notebooks/backdoor` | synthetic | default | 1 | 1 | 0 | 0 | 0 | reduced: image_size 64" in text


def test_scoreboard_names_the_failed_premise(tmp_path):
    import nbformat

    from medadv_lib.book.build import write_scoreboard

    nbformat.write(_claims_notebook("smia", "synthetic", ["cannot be tested"]), tmp_path / "smia.ipynb")
    board, summary = tmp_path / "scoreboard.md", tmp_path / "summary.md"
    write_scoreboard(tmp_path, board, summary)
    assert "| claim 0 | cannot be tested (not met: fair stand-in), 1 seed |" in board.read_text()


def test_every_chapter_with_real_runs_has_their_section_glob_in_the_toc():
    """A real-data run (NAME--DATASET) outside the table of contents fails the book build: every
    chapter that accepts a real dataset lists ``book/notebooks/NAME--*`` under itself."""
    import yaml

    from medadv_lib.papers import papers

    toc = yaml.safe_load((Path(__file__).resolve().parents[1] / "_toc.yml").read_text())
    sections = {}
    for part in toc["parts"]:
        for chapter in part["chapters"]:
            sections[chapter["file"]] = [s.get("glob") for s in chapter.get("sections", [])]
    for name, spec in papers().items():
        if set(spec.datasets) - {"synthetic"}:
            assert f"book/notebooks/{name}--*" in sections[f"book/notebooks/{name}"], name


def test_the_status_page_names_no_absolute_path():
    """An evaluation page's model file lives in the model cache: the status page names the file,
    never where this machine keeps it (the browser check refuses absolute paths)."""
    from medadv_lib.book.build import _fmt_params

    text = _fmt_params({"data_root": "/data/medmnist", "model_file": "/tmp/cache/own-model/k/resnet18.pt", "seed": 0})
    assert "/tmp" not in text and "/data" not in text
    assert "`model_file='resnet18.pt'`" in text and "`data_root='medmnist/'`" in text

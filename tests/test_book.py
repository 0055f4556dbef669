"""The book build fails on broken references; the status page carries each run's provenance."""
import shutil
import subprocess
from pathlib import Path

import pytest

from medadv_lib import book
from medadv_lib.papers import PaperSpec
from medadv_lib.runner import run_notebook

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

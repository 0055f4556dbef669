"""`medadv book --replicate all` (issue 29): every chapter over 3 seeds, reusing the book's own
seed-0 run rather than executing it again."""
import json

import pytest

from medadv_lib import cli
from medadv_lib.book import build as book
from medadv_lib.papers import get_paper
from medadv_lib.running.sweep import finished_entry, plan_cells


def test_all_replications_cover_every_chapter_but_the_matrix():
    reps = {r.paper: r for r in book.all_replications()}
    assert reps["backdoor"].grid == {"seed": [0, 1, 2, 3]}             # the book's own protocol kept
    for name in ("uap-covidnet", "ten-attacks", "smia"):
        assert reps[name].grid == {"seed": [0, 1, 2]}
    assert not set(reps) & set(book.AFTER_CHAPTERS)


def _book_run(folder, cell, preset="smoke", parameters=None, status="ok"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{cell.run_name}.ipynb").write_text('{"cells": []}')
    (folder / f"{cell.run_name}.provenance.json").write_text(json.dumps(
        {"status": status, "preset": preset, "parameters": cell.parameters if parameters is None else parameters}))


def test_the_books_own_run_is_adopted_as_its_replication_cell(tmp_path):
    spec = get_paper("smia")
    cells = plan_cells(spec, "smoke", {"seed": [0, 1, 2]})
    root, book_dir = tmp_path / "sweep", tmp_path / "book"
    _book_run(book_dir, cells[0])
    assert book.adopt_book_run(spec, "smoke", cells[0], root, book_dir)
    assert finished_entry(spec, "smoke", cells[0], root) is not None      # run_sweep will not run it
    assert not book.adopt_book_run(spec, "smoke", cells[0], root, book_dir)   # already there
    assert not book.adopt_book_run(spec, "smoke", cells[1], root, book_dir)   # seed 1 is no book run
    assert finished_entry(spec, "smoke", cells[1], root) is None


@pytest.mark.parametrize("change", ["preset", "parameters", "status"])
def test_a_book_run_that_is_not_the_cell_is_not_adopted(tmp_path, change):
    spec = get_paper("smia")
    cell = plan_cells(spec, "smoke", {"seed": [0]})[0]
    kwargs = {"preset": {"preset": "default"}, "parameters": {"parameters": dict(cell.parameters, seed=5)},
              "status": {"status": "failed"}}[change]
    _book_run(tmp_path / "book", cell, **kwargs)
    assert not book.adopt_book_run(spec, "smoke", cell, tmp_path / "sweep", tmp_path / "book")


def test_replicate_all_on_the_command_line(monkeypatch):
    asked = []
    monkeypatch.setattr(book, "execute_all", lambda *a, **k: [])
    monkeypatch.setattr(book, "papers", lambda: {})
    monkeypatch.setattr(book, "run_replications",
                        lambda preset, replications=book.BOOK_REPLICATIONS, names=None: asked.append(
                            [r.paper for r in replications]) or [])
    monkeypatch.setattr(book, "all_replications", lambda: (book.Replication("smia", {"seed": [0, 1, 2]}),))
    for name in ("write_replication_pages", "write_status_page", "write_scoreboard"):
        monkeypatch.setattr(book, name, lambda *a, **k: [])
    monkeypatch.setattr(book.subprocess, "run", lambda *a, **k: __import__("subprocess").CompletedProcess(a, 0))
    assert cli.main(["book", "--preset", "smoke", "--replicate", "all"]) == 0
    assert cli.main(["book", "--preset", "smoke", "--replicate"]) == 0
    assert asked == [["smia"], ["backdoor"]]
    with pytest.raises(book.BookError, match="replicate must be one of"):
        book.build_book("smoke", replicate="some")


def test_the_books_engine_options_are_checked_before_anything_runs(monkeypatch, capsys):
    """`medadv book --scheduler/--slurm` (issue 31: the book's schedule on the sweeps' engine):
    contradictory or stray engine options are refused with exit 2 before any run."""
    monkeypatch.setattr(book, "build_book", lambda *a, **k: pytest.fail("the book ran"))
    assert cli.main(["book", "--scheduler", "tcp://127.0.0.1:1", "--slurm"]) == 2
    assert cli.main(["book", "--partition", "gpu"]) == 2
    assert "add --slurm" in capsys.readouterr().err


def test_a_premise_on_its_edge_is_reported_over_the_seeds():
    """Issue 29: a premise met in some seeds and not others (a knife-edge stand-in) is named with
    its count over the cells, beside the claim's verdicts across seeds on the scoreboard."""
    from medadv_lib.verdicts import replication

    def record(verdict, met):
        return {"chapter": "uap-covidnet", "id": "c", "claim": "a claim", "verdict": verdict,
                "premises": [{"name": "fair stand-in", "met": met, "evidence": "..."},
                             {"name": "the UAP loop converged", "met": True, "evidence": "..."}]}
    cells = [{"label": f"seed={s}", "values": {"seed": s}, "claims": [record(v, m)]}
             for s, (v, m) in enumerate([("holds", True), ("cannot be tested", False), ("holds", True)])]
    (entry,) = replication.claim_verdicts(cells)
    assert entry["premises"] == {"fair stand-in": "met in 2 of 3", "the UAP loop converged": "met in 3 of 3"}
    assert entry["unstable_premises"] == ["fair stand-in"]
    text = book._across_seeds([{"claims": [entry]}])[("uap-covidnet", "c")]
    assert text.endswith("on the edge: fair stand-in met in 2 of 3")

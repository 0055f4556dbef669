"""benchmarks/book_time.py, the measure of issue 11's budget: its plan is the book's, its report
flags the runs over budget and adds up the build (nothing here is timed)."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import book_time  # noqa: E402

from medadv_lib.book.build import book_runs  # noqa: E402


def test_report_flags_runs_over_budget_and_splits_synthetic_from_real():
    lines = book_time.summarize({"uap-covidnet": 447.0, "uap-covidnet on kermany": 315.0,
                                 "smia": 100.0, "smia on retinamnist": 98.0}, run_budget=300, book_budget=2100)
    assert lines[0].endswith("over") and lines[1].endswith("over") and not lines[2].endswith("over")
    assert "synthetic runs: 547 s; real runs: 413 s; whole book: 960 s = 16.0 min" in lines[4]
    assert "ratio 0.46" in lines[4]
    assert lines[5] == "runs over 300 s: uap-covidnet, uap-covidnet on kermany"
    assert lines[-2:] == ["book_seconds=960", "runs_over_budget=2"]


def test_dry_run_lists_the_books_runs(capsys, tmp_path):
    (tmp_path / "covid-ct-infection").mkdir()
    assert book_time.main(["--dry-run", "--data-dir", str(tmp_path), "--names", "smia"]) == 0
    assert capsys.readouterr().out.split("\n")[:2] == ["smia", "smia on covid-ct-infection"]
    assert len(book_runs(tmp_path, ["smia"])) == 2


def test_bad_input_fails_before_any_run(tmp_path):
    with pytest.raises(SystemExit):
        book_time.main(["--dry-run", "--data-dir", str(tmp_path / "missing")])
    with pytest.raises(SystemExit):
        book_time.main(["--dry-run", "--preset", "fast"])

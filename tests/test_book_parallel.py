"""The book's runs side by side (``medadv book --jobs N``): the robustness matrix's pages wait for the
chapters' runs on their dataset, at most N run at once, and a failed run is reported, not fatal to
the others. The runs here are stand-ins (nothing is executed or trained)."""
import json
import os
import time
from pathlib import Path

import pytest

from medadv_lib.book import build as book

RUNS = [("uap-covidnet", {}), ("uap-covidnet", {"dataset": "kermany"}), ("smia", {}),
        ("backdoor", {"dataset": "kermany"}), ("robustness-matrix", {}),
        ("robustness-matrix", {"dataset": "kermany"})]


def fake_run(task):
    """Stand-in for sweep.run_cell_on_worker: logs its start and end, fails for smia."""
    name, overrides, out = task["spec"].name, task["overrides"], Path(task["out"])
    stem = name + (f"--{overrides['dataset']}" if overrides else "")
    start = time.time()
    time.sleep(0.4 if name != "robustness-matrix" else 0.1)
    (out / f"{stem}.json").write_text(json.dumps({"start": start, "end": time.time(), "threads": task["threads"]}))
    if name == "smia":
        return {"status": "failed", "seconds": time.time() - start, "error": "smia: cell [3] failed with ValueError: on purpose"}
    return {"status": "ok", "seconds": time.time() - start, "notebook": str(out / f"{stem}.ipynb")}


@pytest.fixture
def threads_cluster():
    """An in-process Dask cluster of two one-thread workers (the stand-in runs need no pickling)."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def test_matrix_pages_wait_for_the_chapters_on_their_dataset():
    deps = book.run_dependencies(RUNS)
    assert deps[:4] == [set(), set(), set(), set()]
    assert deps[4] == {0, 2}                  # synthetic matrix: the synthetic chapter runs
    assert deps[5] == {1, 3}                  # kermany matrix: the chapters' kermany runs


def test_default_jobs(monkeypatch):
    monkeypatch.delenv("MEDADV_JOBS", raising=False)
    assert 1 <= book.default_jobs() <= book.MAX_DEFAULT_JOBS
    monkeypatch.setenv("MEDADV_JOBS", "3")
    assert book.default_jobs() == 3


def test_parallel_runs_respect_order_and_limit_and_report_failures(tmp_path, monkeypatch, threads_cluster):
    """The book's one schedule (issue 31) on a Dask cluster of two workers: the matrix pages after
    the chapters on their dataset, never more than two at once, a failure reported, not fatal."""
    from medadv_lib.running.engine import EngineOptions

    real = book.resolve_parameters
    monkeypatch.setattr(book, "book_runs", lambda data_dir=None, names=None: RUNS)
    monkeypatch.setattr(book, "resolve_parameters",    # no Kermany folder: the stand-in runs read none
                        lambda spec, preset, o=None: dict(real(spec, preset), **(o or {})))
    monkeypatch.setattr(book, "RUN_LOGS", tmp_path / "logs")
    failures = book.execute_all("smoke", out_dir=tmp_path, jobs=2, worker=fake_run,
                                engine=EngineOptions(scheduler=threads_cluster, threads=1))
    log = {p.stem: json.loads(p.read_text()) for p in tmp_path.glob("*.json")}
    assert len(log) == 6
    assert len(failures) == 1 and "smia" in failures[0] and "cell.log" in failures[0]
    for matrix, chapters in (("robustness-matrix", ["uap-covidnet", "smia"]),
                             ("robustness-matrix--kermany", ["uap-covidnet--kermany", "backdoor--kermany"])):
        assert all(log[matrix]["start"] >= log[c]["end"] for c in chapters)
    events = sorted([(r["start"], 1) for r in log.values()] + [(r["end"], -1) for r in log.values()])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    assert peak == 2                                     # side by side, never more than the workers
    assert all(r["threads"] == 1 for r in log.values())


def test_the_schedule_runs_replication_cells_beside_the_pages_and_adopts_the_books_own(tmp_path, monkeypatch,
                                                                                       threads_cluster):
    """Issue 31: a replication's cells are jobs of the same schedule, except the one that is the
    book's own run (seed 0), which is adopted from the book's page, not run again."""
    from medadv_lib.running.engine import EngineOptions
    from medadv_lib.running.sweep import finished_entry, plan_cells
    from medadv_lib.papers import get_paper

    ran = tmp_path / "ran"
    ran.mkdir()

    def worker(task):         # Dask copies the function: it leaves a file per run it made
        out = Path(task["out"])
        out.mkdir(parents=True, exist_ok=True)
        (ran / f"{task['spec'].name}-{task['overrides'].get('seed')}").touch()
        params = book.resolve_parameters(task["spec"], task["preset"], task["overrides"])
        stem = task["spec"].run_name(params)
        (out / f"{stem}.ipynb").write_text('{"cells": []}')
        (out / f"{stem}.provenance.json").write_text(json.dumps({"status": "ok", "preset": task["preset"],
                                                                 "parameters": params, "wall_seconds": 1.0}))
        return {"status": "ok", "seconds": 0.01}

    monkeypatch.setattr(book, "book_runs", lambda data_dir=None, names=None: [("smia", {})])
    monkeypatch.setattr(book, "RUN_LOGS", tmp_path / "logs")
    rep = book.Replication("smia", {"seed": [0, 1, 2]})
    failures = book.execute_all("smoke", out_dir=tmp_path / "pages", jobs=2, worker=worker, replications=(rep,),
                                engine=EngineOptions(scheduler=threads_cluster, threads=1),
                                sweeps_root=tmp_path / "sweeps")
    assert failures == []
    assert sorted(p.name for p in ran.iterdir()) == ["smia-1", "smia-2", "smia-None"]   # the page, seeds 1, 2
    spec = get_paper("smia")
    for cell in plan_cells(spec, "smoke", rep.grid):
        assert finished_entry(spec, "smoke", cell, tmp_path / "sweeps" / rep.name) is not None


def test_longest_first_and_the_eta():
    from medadv_lib.papers import get_paper
    from medadv_lib.running.schedule import Job, eta_seconds, ranks

    spec = get_paper("smia")
    jobs = [Job("a", spec, "smoke", cost=100), Job("b", spec, "smoke", cost=10), Job("c", spec, "smoke", cost=10),
            Job("m", spec, "smoke", after=("b",), cost=50)]
    r = ranks(jobs)
    assert r["b"] == 60 and r["a"] == 100 and r["m"] == 50 and r["c"] == 10   # b holds m up: 10 + 50
    assert eta_seconds(jobs, 1) == 170                     # one worker: the sum
    assert eta_seconds(jobs, 2) == 100                     # a | b, m, c: both busy to the end
    assert eta_seconds(jobs, 2, done={"a", "b"}) == 50     # m and c left, side by side
    assert eta_seconds(jobs, 4) == 100


def test_a_fresh_work_folder_without_its_owner_file_is_left_to_its_run(tmp_path):
    from medadv_lib.running.runner import WORKDIR_PREFIX, clean_stale_workdirs

    fresh, old = tmp_path / f"{WORKDIR_PREFIX}a-1", tmp_path / f"{WORKDIR_PREFIX}b-2"
    fresh.mkdir(), old.mkdir()
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    assert clean_stale_workdirs(tmp_path) == [old]          # the fresh one may be a run just starting
    assert fresh.is_dir() and not old.exists()


def test_the_early_book_is_rebuilt_as_pages_finish_with_stand_ins_for_the_rest(tmp_path, monkeypatch, capsys):
    """Issue 31: after a page finishes the HTML is rebuilt (at most every `every` seconds), with a
    stand-in page naming the ETA for each chapter still running; the stand-ins never outlive the build."""
    from medadv_lib.papers import get_paper
    from medadv_lib.running.schedule import Job, JobResult

    for name in ("write_replication_pages", "write_status_page", "write_scoreboard"):
        monkeypatch.setattr(book, name, lambda *a, **k: [])
    (tmp_path / "smia.ipynb").write_text("{}")
    early = book.EarlyBook(every=3600, folder=tmp_path, root=tmp_path,
                           command=["sh", "-c", f"ls {tmp_path} > {tmp_path}/listing"])
    page = JobResult(Job("smia", get_paper("smia"), "smoke"), "ok", 1.0)
    cell = JobResult(Job("smia-seed3/seed=1", get_paper("smia"), "smoke", replication="smia-seed3"), "ok", 1.0)
    early(cell, {"eta_seconds": 600})                      # a replication cell: no page to show
    assert early.builds == 0
    early(page, {"eta_seconds": 600})
    listing = (tmp_path / "listing").read_text().split()
    assert "uap-covidnet.md" in listing and "smia.md" not in listing     # a stand-in for each missing chapter
    assert not list(tmp_path.glob("*.md"))                               # and gone after the build
    assert early.builds == 1 and "the book so far" in capsys.readouterr().out
    early(page, {"eta_seconds": 500})                      # within `every` of the last: not rebuilt
    assert early.builds == 1
    placeholder = book.EarlyBook(folder=tmp_path).placeholders(600)
    assert "about 10 min left" in placeholder[0].read_text()
    book.remove_placeholders(tmp_path)
    assert not list(tmp_path.glob("*.md")) and (tmp_path / "smia.ipynb").is_file()


def test_a_relative_data_folder_reaches_the_runs_as_an_absolute_path(tmp_path, monkeypatch):
    """Each run's process works in its own folder (_build/runs/NAME): `medadv book --data-dir
    ../shared/data` must hand the runs an absolute path (the clean-clone proof of 2026-12-06 failed
    every real-data run on the relative one)."""
    seen = {}
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    monkeypatch.setattr(book, "execute_all", lambda *a, **k: seen.update(k) or ["stop"])
    with pytest.raises(book.BookError):
        book.build_book("smoke", data_dir="data", replicate="none", early=False)
    assert Path(seen["data_dir"]).is_absolute() and Path(seen["data_dir"]) == tmp_path / "data"

"""The book's runs side by side (``medadv book --jobs N``): the robustness matrix's pages wait for the
chapters' runs on their dataset, at most N run at once, and a failed run is reported, not fatal to
the others. The runs here are stand-ins (nothing is executed or trained)."""
import json
import os
import time
from pathlib import Path

from medadv_lib import book
from medadv_lib.runner import RunError

RUNS = [("uap-covidnet", {}), ("uap-covidnet", {"dataset": "kermany"}), ("smia", {}),
        ("backdoor", {"dataset": "kermany"}), ("robustness-matrix", {}),
        ("robustness-matrix", {"dataset": "kermany"})]


def fake_run(name, preset, overrides, out_dir, progress, threads):
    """Stand-in for book._run_in_worker: logs its start and end, fails for smia."""
    stem = name + (f"--{overrides['dataset']}" if overrides else "")
    start = time.time()
    time.sleep(0.4 if name != "robustness-matrix" else 0.1)
    (Path(out_dir) / f"{stem}.json").write_text(json.dumps(
        {"start": start, "end": time.time(), "threads": threads}))
    if name == "smia":
        raise RunError("smia: cell [3] failed with ValueError: on purpose")
    return stem, time.time() - start


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


def test_parallel_runs_respect_order_and_limit_and_report_failures(tmp_path):
    made, failures = book._execute_parallel(RUNS, "smoke", tmp_path, False, 2, worker=fake_run)
    log = {p.stem: json.loads(p.read_text()) for p in tmp_path.glob("*.json")}
    assert len(log) == 6
    assert made == {"uap-covidnet", "uap-covidnet--kermany", "backdoor--kermany", "robustness-matrix",
                    "robustness-matrix--kermany"}
    assert len(failures) == 1 and "smia" in failures[0]
    for matrix, chapters in (("robustness-matrix", ["uap-covidnet", "smia"]),
                             ("robustness-matrix--kermany", ["uap-covidnet--kermany", "backdoor--kermany"])):
        assert all(log[matrix]["start"] >= log[c]["end"] for c in chapters)
    events = sorted([(r["start"], 1) for r in log.values()] + [(r["end"], -1) for r in log.values()])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    assert peak == 2                                     # side by side, never more than the jobs
    cores = os.cpu_count() or 1
    assert all(r["threads"] == max(1, cores // 2) for r in log.values())


def test_a_fresh_work_folder_without_its_owner_file_is_left_to_its_run(tmp_path):
    from medadv_lib.runner import WORKDIR_PREFIX, clean_stale_workdirs

    fresh, old = tmp_path / f"{WORKDIR_PREFIX}a-1", tmp_path / f"{WORKDIR_PREFIX}b-2"
    fresh.mkdir(), old.mkdir()
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    assert clean_stale_workdirs(tmp_path) == [old]          # the fresh one may be a run just starting
    assert fresh.is_dir() and not old.exists()

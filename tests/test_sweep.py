"""``medadv sweep`` on Dask: cells, failures, retries, resume, aggregates, the engines, the cache."""
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from medadv_lib import cli
from medadv_lib.papers import get_paper
from medadv_lib.verdicts import replication
from medadv_lib.specs import PaperSpec, ParameterError, Rule
from medadv_lib.running.engine import (EngineOptions, SlurmOptions, cell_environ, cell_task, execute_cell, local_split,
                                       slurm_cluster)
from medadv_lib.running.sweep import parse_grid, plan_cells, run_sweep

REPO = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "fixtures" / "sweep_mini.py"
MINI = PaperSpec(name="sweep-mini", title="Sweep mini", citation="-", source=FIXTURE,
                 rules={"n": Rule(min=1, max=100)})
LOCAL = EngineOptions(workers=2, threads=1, gpus=())


@pytest.fixture(autouse=True)
def _library_on_the_path(monkeypatch):
    """Workers, cell processes and kernels import this checkout's library."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p))


def _value(seed, n):                 # what the fixture notebook computes
    return round(0.1 * seed + 0.01 * n * n, 3)


# --------------------------------------------------------------------------- planning (cheap)

def test_grid_parsing_and_cells_checked_before_any_work():
    grid = parse_grid(["seed=[0, 1]", "n=[1,2]"])
    assert grid == {"seed": [0, 1], "n": [1, 2]}
    cells = plan_cells(MINI, "smoke", grid)
    assert [c.label for c in cells] == ["seed=0, n=1", "seed=0, n=2", "seed=1, n=1", "seed=1, n=2"]
    assert len({c.key for c in cells}) == 4 and len({c.folder for c in cells}) == 4
    assert cells[3].parameters["seed"] == 1 and cells[3].parameters["n"] == 2
    with pytest.raises(ParameterError, match=r"grid cell seed=0, n=1000: parameter 'n': 1000 is above the maximum"):
        plan_cells(MINI, "smoke", {"seed": [0], "n": [1, 1000]})
    with pytest.raises(ParameterError, match="both a grid axis and a -p parameter"):
        plan_cells(MINI, "smoke", {"n": [1]}, {"n": 2})
    for bad in (["seed"], ["seed=[]"], ["seed=[0, 0]"], ["seed=[0]", "seed=[1]"], ["preset=[smoke]"]):
        with pytest.raises(ParameterError):
            parse_grid(bad)


def test_cli_refuses_a_bad_grid_value_naming_the_cell(capsys, tmp_path):
    code = cli.main(["sweep", "smia", "--preset", "smoke", "--grid", "seed=[0, -1]", "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert code == 2 and "grid cell seed=-1" in err and "below the minimum" in err
    assert not (tmp_path / "s").exists()             # nothing ran, nothing written
    code = cli.main(["sweep", "smia", "--grid", "seed=[0]", "--out", str(tmp_path / "s"), "--partition", "gpu"])
    assert code == 2 and "add --slurm" in capsys.readouterr().err


def test_local_split_fits_the_cores():
    assert local_split(2, 4) == (2, 1)               # two one-thread cells side by side on 2 cores
    assert local_split(16, 3) == (3, 5)
    assert local_split(16, 8, gpus=("0", "1")) == (2, 8)
    assert local_split(8, 8, threads=4) == (2, 4)
    with pytest.raises(ParameterError, match="more than this machine's 2 cores"):
        local_split(2, 4, workers=2, threads=2)


def test_slurm_job_script_carries_partition_walltime_and_gpu():
    args = cli.make_parser().parse_args(
        ["sweep", "backdoor", "--grid", "seed=[0,1]", "--out", "x", "--slurm", "--partition", "gpu-a100",
         "--walltime", "02:30:00", "--gpus", "1", "--cores", "8", "--memory", "32GB", "--account", "lab"])
    cluster = slurm_cluster(cli.slurm_options(args))
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "#SBATCH -p gpu-a100" in script and "#SBATCH -t 02:30:00" in script
    assert "#SBATCH --gres=gpu:1" in script and "#SBATCH -A lab" in script
    assert "#SBATCH --cpus-per-task=8" in script and "--resources medadv_cell=1" in script
    with pytest.raises(ParameterError, match="walltime"):
        SlurmOptions(walltime="two hours").check()


# --------------------------------------------------------------------------- aggregates (no cluster)

def test_estimates_parsed_from_claim_evidence():
    found = replication.parse_estimates("Small Linf: 0.540 [0.460, 0.618] vs 0.85; Large: 2.7 [-4.7, 10.0] points")
    assert [(e["case"], e["value"], e["low"], e["high"], e["unit"]) for e in found] == [
        ("Small Linf", 0.54, 0.46, 0.618, ""), ("Large", 2.7, -4.7, 10.0, "points")]
    assert replication.stability(["holds", "holds"]) == "stable"
    assert replication.stability(["holds", "does not hold", "inconclusive"]) == "unstable"
    assert replication.stability(["holds", "not reproduced at this scale"]) == "unstable"
    assert replication.stability(["holds", "inconclusive"]) == "not always decided"


def test_backdoor_table1_read_from_the_golden_beside_the_papers_cell():
    from medadv_lib.papers.backdoor.replication import table1

    # declared by the paper's spec and handed to the shared layer, which names no paper
    assert get_paper("backdoor").replication_tables() == [table1]
    assert get_paper("uap-covidnet").replication_tables() == []
    assert MINI.replication_tables() == []          # a spec of one's own, not registered
    nb = nbformat.read(REPO / "tests" / "notebooks" / "backdoor.ipynb", as_version=4)
    rows = {m["name"]: m for m in table1(nb)}
    # the golden's printed Table 1 (these two cells change with `make golden`)
    assert rows["Table 1 ASR_p0.6, 1x1"]["value"] == 1.0
    assert rows["Table 1 ASR_p0.6, 1x1"]["paper"] == {"mean": 1.0, "sd": 0.0, "seeds": 4}
    assert rows["Table 1 AUROC_NN, clean"]["value"] == 0.773
    assert rows["Table 1 AUROC_NN, clean"]["paper"]["mean"] == 0.846
    assert len(rows) == 15                           # 5 metrics x (clean, 1x1, 3x3) in the smoke golden


def test_replication_page_shows_our_mean_sd_beside_the_papers():
    cells = [{"label": f"seed={s}", "values": {"seed": s}, "status": "ok", "claims": [],
              "metrics": [{"name": "Table 1 AUROC_NN, clean", "source": "Table 1", "value": v, "unit": "",
                           "paper": {"mean": 0.846, "sd": 0.045, "seeds": 4}}]}
             for s, v in enumerate([0.60, 0.62, 0.58, 0.64])]
    metrics = replication.metric_summaries(cells)
    assert metrics[0]["mean"] == pytest.approx(0.61) and metrics[0]["sd"] == pytest.approx(np.std([.6, .62, .58, .64], ddof=1))
    record = {"title": "Backdoor", "paper": "backdoor", "preset": "smoke", "grid": {"seed": [0, 1, 2, 3]},
              "engine": {"name": "dask.distributed", "cluster": "LocalCluster"}, "claims": [], "metrics": metrics,
              "cells": [{"label": c["label"], "status": "ok", "seconds": 20.0} for c in cells]}
    page = replication.replication_markdown(record, "backdoor-seeds")
    assert "| Table 1 AUROC_NN, clean | all cells | 0.610 ± 0.026 | 4 | 0.580 to 0.640 | 0.846 ± 0.045 |" in page


# --------------------------------------------------------------------------- on a LocalCluster

@pytest.mark.slow
def test_local_sweep_failure_resume_and_nothing_twice(tmp_path):
    out, flag = tmp_path / "sweep", tmp_path / "fail-now"
    flag.touch()
    cells = plan_cells(MINI, "smoke", {"seed": [0, 1], "n": [1, 2]}, {"fail_flag": str(flag)})
    first = run_sweep(MINI, "smoke", cells, out, LOCAL, echo=lambda s: None)
    assert first.computed == 4 and first.failed == ["seed=1, n=2"]
    record = json.loads((out / "sweep.json").read_text())
    assert record["engine"]["cluster"] == "LocalCluster" and record["engine"]["scheduler"].startswith("tcp://127.0.0.1:")
    assert record["engine"]["workers"] == 2 and record["engine"]["threads_per_cell"] == 1
    by_label = {c["label"]: c for c in record["cells"]}
    bad = by_label["seed=1, n=2"]
    assert bad["status"] == "failed" and "asked to fail" in bad["error"]
    assert (out / bad["failed_notebook"]).is_file() and bad["notebook"] is None
    assert sum(c["status"] == "ok" for c in record["cells"]) == 3
    assert len(list(out.glob("*/sweep-mini.ipynb"))) == 3

    flag.unlink()                                    # the cause is fixed: only that cell runs again
    second = run_sweep(MINI, "smoke", cells, out, LOCAL, echo=lambda s: None)
    assert second.computed == 1 and second.failed == []
    assert len(list(out.glob("*/sweep-mini.ipynb"))) == 4 and len(list(out.glob("*/sweep-mini.provenance.json"))) == 4
    assert not list(out.glob("*/*.failed.ipynb"))
    record = json.loads((out / "sweep.json").read_text())
    for cell in record["cells"]:
        prov = json.loads((out / cell["provenance"]).read_text())
        assert prov["status"] == "ok" and prov["parameters"]["seed"] == cell["values"]["seed"]
        assert cell["worker_starts"] in (None, 1) and cell["attempts"] in (None, 1)
    mtimes = {p: p.stat().st_mtime_ns for p in out.glob("*/sweep-mini.*")}

    third = run_sweep(MINI, "smoke", cells, out, LOCAL, echo=lambda s: None)
    assert third.computed == 0 and third.failed == []
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/sweep-mini.*")} == mtimes
    assert third.record["last_run"]["computed"] == 0      # nothing to compute: no cluster started
    assert third.record["engine"] == second.record["engine"]  # the record keeps where the cells ran
    assert [c["worker"] for c in third.record["cells"]] == [c["worker"] for c in second.record["cells"]]
    assert all(c["computed"] is False for c in third.record["cells"])

    # the book: one replication page, and the scoreboard marks the claim that flips as unstable
    from medadv_lib.book import build as book

    pages = tmp_path / "pages"
    records = book.write_replication_pages([out], pages / "replications", pages / "replications.md")
    page = (pages / "replications" / f"sweep-mini--{out.name}.md").read_text()
    assert "holds in 1 of 2" in page and "**unstable**" in page and "holds in 2 of 2 | stable |" in page
    assert "n=1" in page and "4 of 4 cells finished" in page
    assert f"{{doc}}`replications/sweep-mini--{out.name}`" in (pages / "replications.md").read_text()
    one_cell = out / record["cells"][0]["folder"]
    board = book.write_scoreboard(one_cell, pages / "scoreboard.md", pages / "summary.md", sweeps=records).read_text()
    flips_row = next(line for line in board.splitlines() if "holds on even seeds only" in line)
    steady_row = next(line for line in board.splitlines() if "always holds" in line)
    assert "**unstable**: holds in 1, fails (at this scale or the paper's) in 1 of 2" in flips_row
    assert "unstable" not in steady_row and "stable: holds in 2 of 2" in steady_row

    # the aggregates equal numpy's over the cells
    record = third.record
    for n in (1, 2):
        values = [_value(seed, n) for seed in (0, 1)]
        metric = next(m for m in record["metrics"] if m["name"] == "mini-flips: score" and m["group"] == {"n": n})
        assert metric["n"] == 2 and metric["mean"] == pytest.approx(np.mean(values))
        assert metric["sd"] == pytest.approx(np.std(values, ddof=1))
        assert (metric["min"], metric["max"]) == (min(values), max(values))
        twice = next(m for m in record["metrics"] if m["name"] == "mini-steady: twice" and m["group"] == {"n": n})
        assert twice["unit"] == "%" and twice["mean"] == pytest.approx(np.mean([2 * v for v in values]))
        flips = next(c for c in record["claims"] if c["id"] == "mini-flips" and c["group"] == {"n": n})
        assert flips["holds"] == "holds in 1 of 2" and flips["stability"] == "unstable"
        assert flips["verdicts"] == {f"seed=0, n={n}": "holds", f"seed=1, n={n}": "does not hold"}
        steady = next(c for c in record["claims"] if c["id"] == "mini-steady" and c["group"] == {"n": n})
        assert steady["holds"] == "holds in 2 of 2" and steady["stability"] == "stable"


@pytest.mark.slow
def test_a_kernel_that_fails_to_start_is_retried(tmp_path, monkeypatch):
    import zmq

    from medadv_lib.running import kernel

    starts = []
    real = kernel.KernelProcess.manager_class

    def flaky(self):
        base = real(self)

        class Flaky(base):
            async def _async_launch_kernel(self, kernel_cmd, **kw):
                starts.append(1)
                if len(starts) == 1:             # the port race of parallel kernels, once
                    raise zmq.ZMQError(98, "Address already in use")
                return await super()._async_launch_kernel(kernel_cmd, **kw)
        return Flaky

    monkeypatch.setattr(kernel.KernelProcess, "manager_class", flaky)
    result = execute_cell(MINI, "smoke", {"seed": 0}, tmp_path, pause=0.1)
    assert result["status"] == "ok" and result["attempts"] == 2 and len(starts) == 2
    assert "Address already in use" in result["kernel_errors"][0]
    assert (tmp_path / "sweep-mini.ipynb").is_file()
    # a failing cell is not retried: it is the notebook's failure, not the kernel's
    flag = tmp_path / "flag"
    flag.touch()
    failed = execute_cell(MINI, "smoke", {"seed": 1, "n": 2, "fail_flag": str(flag)}, tmp_path, pause=0.1)
    assert failed["status"] == "failed" and failed["attempts"] == 1 and "asked to fail" in failed["error"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_cell_environ_undoes_the_nannys_malloc_trim_and_sets_the_threads():
    worker_env = {"MALLOC_TRIM_THRESHOLD_": "65536", "OMP_NUM_THREADS": "1", "HOME": "/home/x"}
    task = cell_task(MINI, "smoke", {}, Path("out"), threads=2, environ={"MALLOC_TRIM_THRESHOLD_": None})
    env = cell_environ(task, worker_env)
    assert "MALLOC_TRIM_THRESHOLD_" not in env and env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "2"
    assert env["HOME"] == "/home/x" and env["PYTHONPATH"].split(os.pathsep)[0] == str(REPO)
    kept = cell_environ(cell_task(MINI, "smoke", {}, Path("out"), threads=None,
                                  environ={"MALLOC_TRIM_THRESHOLD_": "128"}), worker_env)
    assert kept["MALLOC_TRIM_THRESHOLD_"] == "128" and kept["OMP_NUM_THREADS"] == "1"


def _cell_environ_printed(out: Path) -> str:
    notebook = nbformat.read(next(out.glob("*/sweep-mini.ipynb")), as_version=4)
    return next(o["text"] for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
                if "environ:" in o.get("text", ""))


def test_a_cell_runs_with_the_submitters_environment_not_the_dask_nannys(tmp_path, monkeypatch):
    """Dask's nanny writes ``MALLOC_TRIM_THRESHOLD_=65536`` into the environment of the process that
    starts a LocalCluster and of its workers; with it every run took about twice as long. A cell gets
    the value of the command that submitted it, and that command's environment is left as it was."""
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    before = dict(os.environ)
    one = EngineOptions(workers=1, threads=1, gpus=())
    run_sweep(MINI, "smoke", plan_cells(MINI, "smoke", {"seed": [0]}), tmp_path / "unset", one, echo=lambda s: None)
    assert "'MALLOC_TRIM_THRESHOLD_': None" in _cell_environ_printed(tmp_path / "unset")
    assert "'OMP_NUM_THREADS': '1'" in _cell_environ_printed(tmp_path / "unset")
    assert dict(os.environ) == before
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")    # the user's own setting reaches the cell
    run_sweep(MINI, "smoke", plan_cells(MINI, "smoke", {"seed": [0]}), tmp_path / "set", one, echo=lambda s: None)
    assert "'MALLOC_TRIM_THRESHOLD_': '131072'" in _cell_environ_printed(tmp_path / "set")


def test_sweep_on_an_existing_scheduler_and_worker(tmp_path):
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    bin_dir = Path(sys.executable).parent
    procs = [subprocess.Popen([str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        procs.append(subprocess.Popen([str(bin_dir / "dask"), "worker", address, "--nthreads", "1",
                                       "--no-dashboard", "--host", "127.0.0.1"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        deadline = time.time() + 60
        with Client(address, timeout="60s") as client:
            while not client.scheduler_info()["workers"] and time.time() < deadline:
                time.sleep(0.5)
        cells = plan_cells(MINI, "smoke", {"seed": [0, 1]})
        result = run_sweep(MINI, "smoke", cells, tmp_path, EngineOptions(scheduler=address), echo=lambda s: None)
        assert result.computed == 2 and result.failed == []
        assert result.record["engine"]["scheduler"] == address
        assert result.record["engine"]["cluster"] == "existing scheduler"
        assert len(list(tmp_path.glob("*/sweep-mini.ipynb"))) == 2
        again = run_sweep(MINI, "smoke", cells, tmp_path, EngineOptions(scheduler=address), echo=lambda s: None)
        assert again.computed == 0
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=30)


# --------------------------------------------------------------------------- the shared model cache

def _train_once(cache: str, queue, barrier) -> None:
    os.environ["MEDADV_CACHE"] = cache
    import torch

    torch.set_num_threads(1)
    from medadv_lib.data import covidx_splits
    from medadv_lib.training import TrainConfig, train_model

    train, _ = covidx_splits(None, 32, 256, 16, seed=0)
    barrier.wait(timeout=120)                  # both processes ask for the same model at once
    result = train_model("simple-cnn", {"num_classes": 3, "width": 8, "depth": 2}, train,
                         TrainConfig(epochs=3, batch_size=32, seed=4), "cpu", progress=False)
    queue.put((result.from_cache, {k: v.sum().item() for k, v in result.model.state_dict().items()}))


@pytest.mark.slow
def test_two_processes_training_one_configuration_train_it_once(tmp_path):
    import warnings

    from medadv_lib.cache import VerifiedFolder

    ctx = multiprocessing.get_context("spawn")
    queue, barrier = ctx.Queue(), ctx.Barrier(2)
    procs = [ctx.Process(target=_train_once, args=(str(tmp_path), queue, barrier)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert sorted(r[0] for r in results) == [False, True]     # one trained, the other loaded its result
    assert results[0][1] == results[1][1]
    (folder,) = (tmp_path / "checkpoints").iterdir()
    files = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    assert files == ["config.json", "epoch_001.pt", "epoch_002.pt", "epoch_003.pt", "final.pt",
                     "history.json", "manifest.json"]                  # no duplicate, no leftover
    store = VerifiedFolder(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                               # nothing is quarantined
        assert all(store.read_bytes(name) is not None for name in files if name != "manifest.json")


@pytest.mark.slow
def test_a_cell_whose_worker_dies_is_run_again(tmp_path):
    import signal
    import threading

    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      host="127.0.0.1") as cluster, Client(cluster) as client:
        cells = plan_cells(MINI, "smoke", {"seed": [0]}, {"sleep": 8.0})
        starts = tmp_path / cells[0].folder / ".cell-starts"
        done = {}
        thread = threading.Thread(target=lambda: done.update(result=run_sweep(
            MINI, "smoke", cells, tmp_path, EngineOptions(scheduler=cluster.scheduler_address), echo=lambda s: None)))
        thread.start()
        deadline = time.time() + 120
        while not starts.is_file() and time.time() < deadline:
            time.sleep(0.2)
        worker = starts.read_text().split()[0]
        pid = client.run(os.getpid, workers=[worker])[worker]
        os.kill(pid, signal.SIGKILL)                  # the worker dies while its cell runs
        thread.join(timeout=300)
    result = done["result"]
    assert result.failed == [] and result.computed == 1
    (cell,) = result.record["cells"]
    assert cell["status"] == "ok" and cell["worker_starts"] == 2
    assert (tmp_path / cell["notebook"]).is_file()


def test_sweep_and_book_help(capsys):
    for argv in (["sweep", "--help"], ["book", "--help"]):
        with pytest.raises(SystemExit) as exit_:
            cli.main(argv)
        assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "--scheduler" in out and "--slurm" in out and "--sweeps" in out and "--replicate" in out


def test_book_refuses_a_folder_without_a_sweep(tmp_path):
    from medadv_lib.book import build as book

    with pytest.raises(book.BookError, match="no sweep.json"):
        book.find_sweeps([tmp_path])


def test_the_book_runs_its_replication_by_default(monkeypatch, tmp_path):
    """`medadv book` runs BOOK_REPLICATIONS (backdoor over 4 seeds) unless --no-replicate, only for
    the chapters it builds, and never with --no-execute."""
    from medadv_lib.book import build as book
    from medadv_lib.running import sweep as sweep_mod

    real_replications, asked = book.run_replications, []
    monkeypatch.setattr(book, "execute_all", lambda *a, **k: [])
    monkeypatch.setattr(book, "papers", lambda: {})
    monkeypatch.setattr(book, "run_replications", lambda preset, names=None: asked.append((preset, names)) or [])
    for name in ("write_replication_pages", "write_status_page", "write_scoreboard"):
        monkeypatch.setattr(book, name, lambda *a, **k: [])
    monkeypatch.setattr(book.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0))
    assert cli.main(["book", "--preset", "smoke"]) == 0
    assert cli.main(["book", "--preset", "smoke", "--no-replicate"]) == 0
    assert cli.main(["book", "--no-execute"]) == 0
    assert asked == [("smoke", None)]
    # the real runner of replications: the backdoor's 4 seeds at the book's preset, none for a
    # book of other chapters
    swept = []
    monkeypatch.setattr(sweep_mod, "run_sweep", lambda spec, preset, cells, out, grid: swept.append(
        (spec.name, preset, [c.parameters["seed"] for c in cells], grid)) or sweep_mod.SweepResult({}, out))
    assert real_replications("smoke", root=tmp_path, names=["ten-attacks"]) == []
    assert swept == []
    assert real_replications("smoke", root=tmp_path) == [tmp_path / "backdoor-seed4"]
    assert swept == [("backdoor", "smoke", [0, 1, 2, 3], {"seed": [0, 1, 2, 3]})]


def test_a_claim_never_decided_reads_so_over_the_cells_not_holds_in_0():
    cells = [{"label": f"seed={s}", "values": {"seed": s},
              "claims": [{"chapter": "backdoor", "id": "c", "claim": "a claim", "verdict": "cannot be tested"},
                         {"chapter": "backdoor", "id": "d", "claim": "another", "verdict": ["holds", "inconclusive"][s]}]}
             for s in (0, 1)]
    by_id = {e["id"]: e for e in replication.claim_verdicts(cells)}
    assert by_id["c"]["stability"] == "stable" and by_id["c"]["summary"] == "cannot be tested in 2 of 2"
    assert by_id["d"]["stability"] == "not always decided" and by_id["d"]["summary"] == "holds in 1 of 2"

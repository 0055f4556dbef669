"""``medadv sweep``: one chapter over a grid of parameters, each cell one ``medadv run``, on Dask.

    medadv sweep NAME --grid 'seed=[0,1,2,3]' [--grid 'dataset=[kermany,nih-cxr14]'] [-p NAME VALUE]...
                 [--preset P] [--data-dir DIR] --out DIR
                 [--workers N --threads T | --scheduler ADDRESS | --slurm --partition P --walltime T ...]

* **Cells.** The grid's cartesian product; each cell is the chapter's notebook run by
  :func:`medadv_lib.runner.run_notebook` (papermill, provenance, ``.failed.ipynb`` on failure)
  into its own folder ``DIR/<values>-<hash>/``. Every cell's parameters are resolved and checked
  before anything starts: a bad value is refused naming its cell (:class:`ParameterError`, exit 2).
* **Engine: Dask distributed**, never a scheduler of our own. By default a ``LocalCluster`` that
  the command starts and closes, ``workers x threads <= cores`` (one cell per worker at a time,
  ``threads`` torch/OpenMP threads per cell; default one thread per cell and as many workers as
  cores, the faster split on 2 cores); with GPUs, one worker per GPU, each cell seeing only its
  worker's GPU (``CUDA_VISIBLE_DEVICES``). ``--scheduler ADDRESS`` joins a running Dask cluster;
  ``--slurm`` starts one through ``dask_jobqueue.SLURMCluster`` (one worker per job, the GPUs of
  the job given to its cells).
* **A cell runs in a child process** of its worker (Dask's worker processes are daemonic, and
  papermill's working directory is per process): ``python -m medadv_lib.sweep _cell TASK``. The
  child retries a kernel that failed to start (:class:`~medadv_lib.runner.KernelStartError`), and
  stops its run cleanly when its worker dies; Dask then re-runs the cell on another worker.
* **Nothing done twice.** A cell whose folder holds a finished run (notebook, and provenance with
  status ``ok`` whose parameters hash to the cell's key) is not run again: a second sweep
  computes nothing. Failed cells keep their ``.failed.ipynb``; the others finish; Ctrl-C cancels
  what runs and keeps every finished cell. Parallel cells share the model cache safely
  (:mod:`medadv_lib.cache`: per-configuration training lock, atomic files, locked manifest).
* **``DIR/sweep.json``**, rewritten atomically after every cell: the engine and its scheduler
  address, one entry per cell (parameters, status, notebook, provenance, seconds, worker) and the
  aggregate of :mod:`medadv_lib.replication` (each claim's verdicts in k of m cells, headline
  metrics' mean +- sd and range).
"""
from __future__ import annotations

import contextlib
import itertools
import json
import os
import pickle
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import yaml

from .papers import PaperSpec, ParameterError, resolve_parameters
from .utils import atomic_write, config_key

__all__ = ["SWEEP_JSON", "Cell", "SlurmOptions", "EngineOptions", "SweepResult", "SweepError",
           "parse_grid", "plan_cells", "parameter_key", "local_split", "slurm_cluster", "run_sweep",
           "execute_cell", "run_cell_on_worker", "finished_entry", "read_sweep"]

SWEEP_JSON = "sweep.json"
#: Attempts to start a cell's kernel (a start that fails is retried after a short pause).
KERNEL_ATTEMPTS = 3
#: The library's own folder: put first on a cell's PYTHONPATH, so the child runs this code.
LIB_ROOT = Path(__file__).resolve().parent.parent
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


class SweepError(RuntimeError):
    """The engine could not be started or reached (no scheduler at the address, no Slurm)."""


# --------------------------------------------------------------------------- the grid

def parse_grid(texts: list[str] | None) -> dict[str, list]:
    """``['seed=[0,1]', 'dataset=[kermany, nih-cxr14]']`` to ``{'seed': [0, 1], 'dataset': [...]}``.
    A single value (``seed=3``) is a one-value axis."""
    grid: dict[str, list] = {}
    for text in texts or []:
        name, sep, values = str(text).partition("=")
        name = name.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ParameterError(f"--grid {text!r}: write NAME=[VALUE, ...], e.g. 'seed=[0,1,2,3]'")
        if name in grid:
            raise ParameterError(f"--grid: {name!r} is given twice")
        if name == "preset":
            raise ParameterError("--grid: sweep one preset at a time (--preset P)")
        try:
            parsed = yaml.safe_load(values) if values.strip() else None
        except yaml.YAMLError as exc:
            raise ParameterError(f"--grid {text!r}: not a YAML list ({exc.__class__.__name__})") from None
        if parsed is None:
            raise ParameterError(f"--grid {text!r}: no values")
        items = parsed if isinstance(parsed, list) else [parsed]
        if not items:
            raise ParameterError(f"--grid {text!r}: no values")
        if len({json.dumps(v, sort_keys=True, default=str) for v in items}) != len(items):
            raise ParameterError(f"--grid {text!r}: a value is repeated")
        grid[name] = items
    if not grid:
        raise ParameterError("a sweep needs at least one --grid NAME=[VALUE, ...]")
    return grid


@dataclass(frozen=True)
class Cell:
    """One cell of the grid: its grid values, the overrides it runs with and its resolved
    parameters (checked), keyed by their hash."""

    index: int
    values: dict[str, Any]
    overrides: dict[str, Any]
    parameters: dict[str, Any]
    key: str
    run_name: str               # NAME or NAME--DATASET: the notebook's file name in the cell folder

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.values.items())

    @property
    def folder(self) -> str:
        """``seed-0_dataset-kermany-1a2b3c4d5e``: readable, and unique by the parameters' hash."""
        slug = "_".join(f"{k}-{v}" for k, v in self.values.items())
        slug = re.sub(r"[^A-Za-z0-9._=-]+", "", slug.replace(" ", ""))[:80] or "cell"
        return f"{slug}-{self.key[:10]}"


def parameter_key(paper: str, preset: str, parameters: dict) -> str:
    """The hash a cell is recognised by: paper, preset and every resolved parameter (as JSON
    reads them back, so the provenance file of a finished run gives the same key)."""
    canonical = json.loads(json.dumps(parameters, default=str, sort_keys=True))
    return config_key({"paper": paper, "preset": preset, "parameters": canonical})


def _data_root(dataset: Any, data_dir: str | Path) -> str:
    from .data.registry import find_data

    if dataset in (None, "synthetic"):
        return ""
    found = find_data(data_dir)
    if dataset not in found:
        raise ParameterError(f"no {dataset!r} folder under {data_dir} (found: {', '.join(found) or 'none'})")
    return str(found[dataset])


def plan_cells(spec: PaperSpec, preset: str, grid: dict[str, list], overrides: dict[str, Any] | None = None,
               data_dir: str | Path | None = None) -> list[Cell]:
    """Every cell of the grid with its parameters resolved and checked (no heavy work). A bad
    value is refused naming its cell; ``data_dir`` gives each cell the folder of its dataset."""
    overrides = dict(overrides or {})
    both = sorted(set(grid) & set(overrides))
    if both:
        raise ParameterError(f"{', '.join(both)} is both a grid axis and a -p parameter")
    if "preset" in overrides:
        raise ParameterError("use --preset to choose a preset, not -p preset")
    if data_dir is not None:
        if "data_root" in overrides or "data_root" in grid:
            raise ParameterError("give either --data-dir or data_root, not both")
        if not Path(data_dir).is_dir():
            raise ParameterError(f"data folder not found: {data_dir}")
    names = list(grid)
    cells, keys = [], {}
    for index, combo in enumerate(itertools.product(*(grid[n] for n in names))):
        values = dict(zip(names, combo))
        label = ", ".join(f"{k}={v}" for k, v in values.items())
        cell_overrides = {**overrides, **values}
        try:
            if data_dir is not None:
                cell_overrides["data_root"] = _data_root(cell_overrides.get("dataset", "synthetic"), data_dir)
            parameters = resolve_parameters(spec, preset, cell_overrides)
        except ParameterError as exc:
            raise ParameterError(f"grid cell {label}: {exc}") from None
        key = parameter_key(spec.name, preset, parameters)
        if key in keys:
            raise ParameterError(f"grid cells {keys[key]} and {label} are the same run")
        keys[key] = label
        cells.append(Cell(index, values, cell_overrides, parameters, key, spec.run_name(parameters)))
    return cells


# --------------------------------------------------------------------------- one cell

def execute_cell(spec: PaperSpec, preset: str, overrides: dict[str, Any], out: Path,
                 attempts: int = KERNEL_ATTEMPTS, pause: float = 2.0) -> dict[str, Any]:
    """Run one cell in this process: :func:`~medadv_lib.runner.run_notebook`, retrying a kernel
    that failed to start (up to ``attempts`` starts). Returns the cell's result (never raises
    for a failed run): ``status`` ok / failed / interrupted, ``error``, ``attempts``, ``seconds``."""
    from .runner import KernelStartError, RunError, run_notebook

    t0, errors = time.perf_counter(), []
    for attempt in range(1, attempts + 1):
        try:
            path = run_notebook(spec, preset, overrides, out, progress=False)
        except KernelStartError as exc:
            errors.append(str(exc).splitlines()[0])
            if attempt < attempts:
                time.sleep(pause * attempt)
                continue
            return {"status": "failed", "attempts": attempt, "seconds": time.perf_counter() - t0,
                    "error": f"the kernel did not start in {attempts} attempts: {errors[-1]}",
                    "kernel_errors": errors}
        except RunError as exc:
            return {"status": "failed", "attempts": attempt, "seconds": time.perf_counter() - t0,
                    "error": str(exc), "kernel_errors": errors}
        except ParameterError as exc:
            return {"status": "failed", "attempts": attempt, "seconds": time.perf_counter() - t0,
                    "error": f"bad parameters: {exc}", "kernel_errors": errors}
        except KeyboardInterrupt:
            return {"status": "interrupted", "attempts": attempt, "seconds": time.perf_counter() - t0,
                    "error": "interrupted", "kernel_errors": errors}
        return {"status": "ok", "attempts": attempt, "seconds": time.perf_counter() - t0,
                "notebook": str(path), "kernel_errors": errors}
    raise AssertionError("unreachable")


def _watch_parent() -> None:
    """In a cell's child process: when the worker that started it dies, stop the run as Ctrl-C
    would (the kernel is interrupted, the last good notebook kept), then leave."""
    parent = os.getppid()

    def watch():
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                signal.raise_signal(signal.SIGINT)
                time.sleep(30)
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="medadv-parent-watch").start()


def _cell_main(task_path: str) -> int:
    """``python -m medadv_lib.sweep _cell TASK``: the child process of one cell."""
    task = pickle.loads(Path(task_path).read_bytes())
    _watch_parent()
    result = execute_cell(task["spec"], task["preset"], task["overrides"], Path(task["out"]),
                          attempts=task.get("attempts", KERNEL_ATTEMPTS))
    with atomic_write(task["result"], "w") as handle:
        json.dump(result, handle, default=str)
    return 0


def run_cell_on_worker(task: dict[str, Any]) -> dict[str, Any]:
    """The Dask task of one cell: run it in a child process (see the module docstring), with its
    threads and GPU; return its result with the worker it ran on. ``task["work"]`` (default
    ``task["out"]``): the folder of its log and bookkeeping files."""
    try:
        from distributed import get_worker

        worker = get_worker()
        worker_name, address = str(worker.name), worker.address
    except (ImportError, ValueError):
        worker_name, address = "", "this process"
    folder = Path(task.get("work") or task["out"])   # its log and bookkeeping (a book page: apart from the pages)
    folder.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:8]          # a fresh name per start: a re-run never reads an old result
    task_path, result_path = folder / f".cell-task-{token}.pkl", folder / f".cell-result-{token}.json"
    with open(folder / ".cell-starts", "a") as starts:   # counts the starts (a dead worker's cell restarts)
        starts.write(f"{address}\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(LIB_ROOT), env.get("PYTHONPATH", "")) if p)
    if task.get("threads"):
        env.update({var: str(task["threads"]) for var in _THREAD_VARS})
    gpu = None
    if task.get("gpus"):
        gpus = task["gpus"]
        gpu = gpus[int(worker_name) % len(gpus)] if worker_name.isdigit() else gpus[0]
        env["CUDA_VISIBLE_DEVICES"] = str(gpu)
    elif env.get("CUDA_VISIBLE_DEVICES"):
        gpu = env["CUDA_VISIBLE_DEVICES"]
    with atomic_write(task_path, "wb") as handle:
        pickle.dump(dict(task, result=str(result_path)), handle)
    try:
        with open(folder / "cell.log", "ab") as log:
            proc = subprocess.run([task.get("python") or sys.executable, "-m", "medadv_lib.sweep", "_cell",
                                   str(task_path)], env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)   # Ctrl-C reaches the sweep, which stops the cells
        if result_path.is_file():
            result = json.loads(result_path.read_text())
        else:
            result = {"status": "failed", "attempts": 1, "seconds": None,
                      "error": f"the cell's process ended with exit code {proc.returncode} before it "
                               f"reported; see {folder.name}/cell.log"}
    finally:
        task_path.unlink(missing_ok=True)
        result_path.unlink(missing_ok=True)
    result.update(worker=address, gpu=gpu)
    return result


# --------------------------------------------------------------------------- the engine

@dataclass(frozen=True)
class SlurmOptions:
    """One Slurm job per Dask worker (``dask_jobqueue.SLURMCluster``); each job runs one cell at a
    time with ``cores`` threads and its ``gpus`` GPUs."""

    partition: str | None = None
    walltime: str = "01:00:00"
    cores: int = 4
    memory: str = "16GB"
    gpus: int = 0
    jobs: int | None = None          # default: one per cell to run
    account: str | None = None
    extra: tuple[str, ...] = ()      # more #SBATCH directives, e.g. "--constraint=a100"

    def check(self) -> None:
        if not re.fullmatch(r"(\d+-)?\d{1,3}:\d{2}(:\d{2})?", self.walltime):
            raise ParameterError(f"--walltime {self.walltime!r}: write HH:MM:SS or D-HH:MM:SS")
        if self.cores < 1 or self.gpus < 0 or (self.jobs is not None and self.jobs < 1):
            raise ParameterError("--cores and --jobs must be at least 1, --gpus at least 0")
        if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", self.memory, re.IGNORECASE):
            raise ParameterError(f"--memory {self.memory!r}: write e.g. 16GB")

    def seconds(self) -> int:
        days, _, clock = self.walltime.rpartition("-")
        parts = [int(p) for p in clock.split(":")] + [0] * (3 - len(clock.split(":")))
        return int(days or 0) * 86400 + parts[0] * 3600 + parts[1] * 60 + parts[2]


@dataclass(frozen=True)
class EngineOptions:
    """Where the cells run: a LocalCluster (default), a running scheduler, or Slurm."""

    scheduler: str | None = None
    slurm: SlurmOptions | None = None
    workers: int | None = None
    threads: int | None = None
    #: GPUs for a local cluster (one worker each); None: those this machine has.
    gpus: tuple[str, ...] | None = None
    kernel_attempts: int = KERNEL_ATTEMPTS


def local_gpus() -> tuple[str, ...]:
    """This machine's GPUs, as ``CUDA_VISIBLE_DEVICES`` names them."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return tuple(v.strip() for v in visible.split(",") if v.strip() and v.strip() != "-1")
    try:
        import torch

        return tuple(str(i) for i in range(torch.cuda.device_count()))
    except Exception:
        return ()


def local_split(cores: int, cells: int, gpus: tuple[str, ...] = (), workers: int | None = None,
                threads: int | None = None) -> tuple[int, int]:
    """Workers and torch threads per cell for a LocalCluster, ``workers x threads <= cores``.
    Default on CPU: one thread per cell, as many workers as cores (on 2 cores two one-thread runs
    side by side beat one two-thread run); with GPUs one worker per GPU and the cores shared."""
    cores, cells = max(1, cores), max(1, cells)
    if workers is None:
        workers = min(len(gpus), cells) if gpus else min(cores // (threads or 1) or 1, cells)
    if threads is None:
        threads = max(1, cores // workers)
    if workers < 1 or threads < 1:
        raise ParameterError("--workers and --threads must be at least 1")
    if workers * threads > cores:
        raise ParameterError(f"--workers {workers} x --threads {threads} is more than this machine's "
                             f"{cores} cores")
    return workers, threads


def slurm_cluster(options: SlurmOptions, python: str | None = None):
    """A ``dask_jobqueue.SLURMCluster`` for ``options`` (no job is submitted until it is scaled;
    ``.job_script()`` shows the batch script)."""
    from dask_jobqueue import SLURMCluster

    options.check()
    directives = [f"--gres=gpu:{options.gpus}"] if options.gpus else []
    directives += list(options.extra)
    lifetime = max(60, options.seconds() - 300)    # leave before the walltime; the cell is re-run elsewhere
    return SLURMCluster(queue=options.partition, account=options.account, cores=options.cores, processes=1,
                        memory=options.memory, walltime=options.walltime, python=python or sys.executable,
                        job_extra_directives=directives,
                        # any free port: several sweeps share a login node without a clash
                        scheduler_options={"dashboard_address": ":0"},
                        worker_extra_args=["--resources", "medadv_cell=1", "--lifetime", f"{lifetime}s",
                                           "--lifetime-stagger", "60s"])


@dataclass
class _Engine:
    client: Any
    info: dict[str, Any]
    threads: int | None = None
    gpus: tuple[str, ...] = ()
    resources: dict | None = None


@contextlib.contextmanager
def open_engine(options: EngineOptions, n_cells: int) -> Iterator[_Engine]:
    """Start (or join) the Dask cluster; close what this command started, however it ends."""
    import logging

    import distributed
    from distributed import Client, LocalCluster

    base = {"name": "dask.distributed", "version": distributed.__version__}
    if options.scheduler:
        try:
            client = Client(options.scheduler, timeout="15s")
        except (OSError, TimeoutError) as exc:
            raise SweepError(f"no Dask scheduler answers at {options.scheduler} ({exc})") from None
        try:
            workers = client.scheduler_info().get("workers", {})
            yield _Engine(client, {**base, "cluster": "existing scheduler", "scheduler": client.scheduler.address,
                                   "workers": len(workers), "threads_per_cell": options.threads},
                          threads=options.threads)
        finally:
            client.close()
        return
    if options.slurm is not None:
        cluster = slurm_cluster(options.slurm)
        try:
            cluster.scale(jobs=options.slurm.jobs or n_cells)
            client = Client(cluster)
            try:
                yield _Engine(client, {**base, "cluster": "SLURMCluster (dask-jobqueue)",
                                       "scheduler": cluster.scheduler_address, "jobs": options.slurm.jobs or n_cells,
                                       "partition": options.slurm.partition, "walltime": options.slurm.walltime,
                                       "cores": options.slurm.cores, "memory": options.slurm.memory,
                                       "gpus_per_job": options.slurm.gpus, "threads_per_cell": options.slurm.cores},
                              threads=options.slurm.cores, resources={"medadv_cell": 1})
            finally:
                client.close()
        finally:
            cluster.close()
        return
    gpus = tuple(options.gpus) if options.gpus is not None else local_gpus()
    workers, threads = local_split(os.cpu_count() or 1, n_cells, gpus, options.workers, options.threads)
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                           host="127.0.0.1", memory_limit=0, silence_logs=logging.ERROR)
    try:
        client = Client(cluster)
        try:
            yield _Engine(client, {**base, "cluster": "LocalCluster", "scheduler": cluster.scheduler_address,
                                   "workers": workers, "threads_per_cell": threads, "gpus": list(gpus)},
                          threads=threads, gpus=gpus)
        finally:
            client.close()
    finally:
        cluster.close()


# --------------------------------------------------------------------------- the sweep

def _rel(path: str | Path | None, root: Path) -> str | None:
    if not path:
        return None
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _base_entry(cell: Cell) -> dict[str, Any]:
    return {"index": cell.index, "label": cell.label, "values": cell.values, "parameters": cell.parameters,
            "key": cell.key, "folder": cell.folder, "status": "pending", "notebook": None, "provenance": None,
            "failed_notebook": None, "error": None, "seconds": None, "attempts": None, "worker_starts": None,
            "worker": None, "gpu": None, "computed": None}


def finished_entry(spec: PaperSpec, preset: str, cell: Cell, root: Path) -> dict[str, Any] | None:
    """The entry of a cell already finished in ``root`` (its notebook, and a provenance with status
    ``ok`` whose parameters hash to the cell's key), or None: it must run."""
    folder = root / cell.folder
    notebook, prov_path = folder / f"{cell.run_name}.ipynb", folder / f"{cell.run_name}.provenance.json"
    if not (notebook.is_file() and prov_path.is_file()):
        return None
    try:
        prov = json.loads(prov_path.read_text())
    except (OSError, ValueError):
        return None
    if prov.get("status") != "ok" or parameter_key(spec.name, prov.get("preset"), prov.get("parameters", {})) != cell.key:
        return None
    return dict(_base_entry(cell), status="ok", notebook=_rel(notebook, root), provenance=_rel(prov_path, root),
                seconds=prov.get("wall_seconds"), data=prov.get("data"), computed=False)


def _result_entry(cell: Cell, result: dict, root: Path) -> dict[str, Any]:
    folder = root / cell.folder
    entry = dict(_base_entry(cell), status=result["status"], error=result.get("error"),
                 seconds=result.get("seconds"), attempts=result.get("attempts"), worker=result.get("worker"),
                 gpu=result.get("gpu"), computed=True)
    starts = folder / ".cell-starts"
    entry["worker_starts"] = len(starts.read_text().splitlines()) if starts.is_file() else None
    if result.get("kernel_errors"):
        entry["kernel_errors"] = result["kernel_errors"]
    notebook, prov = folder / f"{cell.run_name}.ipynb", folder / f"{cell.run_name}.provenance.json"
    failed = folder / f"{cell.run_name}.failed.ipynb"
    if result["status"] == "ok":
        entry.update(notebook=_rel(notebook, root), provenance=_rel(prov, root))
        with contextlib.suppress(OSError, ValueError):
            entry["data"] = json.loads(prov.read_text()).get("data")
    elif failed.is_file():
        entry["failed_notebook"] = _rel(failed, root)
    return entry


@dataclass
class SweepResult:
    """What a sweep did: its record (``sweep.json``), the failed cells' labels, how many it ran."""

    record: dict[str, Any]
    path: Path
    computed: int = 0
    failed: list[str] = field(default_factory=list)
    interrupted: bool = False


def _previous_record(root: Path) -> dict[str, Any]:
    try:
        return read_sweep(root)
    except (OSError, ValueError):
        return {}


def read_sweep(folder: str | Path) -> dict[str, Any]:
    return json.loads((Path(folder) / SWEEP_JSON).read_text())


def _write(record: dict, root: Path, chapter: str) -> None:
    from .replication import aggregate

    cells = sorted(record["cells_by_index"].values(), key=lambda e: e["index"])
    out = {k: v for k, v in record.items() if k != "cells_by_index"}
    out["cells"] = cells
    out.update(aggregate(chapter, cells, root))
    with atomic_write(root / SWEEP_JSON, "w") as handle:
        json.dump(out, handle, indent=1, default=str, allow_nan=False)


def run_sweep(spec: PaperSpec, preset: str, cells: list[Cell], out: str | Path,
              engine: EngineOptions | None = None, grid: dict | None = None, overrides: dict | None = None,
              echo: Callable[[str], None] = print) -> SweepResult:
    """Run every cell not finished before on the Dask engine; write ``out/sweep.json``.

    Failed cells do not stop the others (their labels are in the result); ``KeyboardInterrupt``
    cancels what runs, records the sweep as interrupted and is re-raised."""
    from distributed import as_completed

    engine = engine or EngineOptions()
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    started, t0 = datetime.now(timezone.utc), time.perf_counter()
    record: dict[str, Any] = {
        "paper": spec.name, "title": spec.title, "preset": preset,
        "grid": grid or {k: list(dict.fromkeys(c.values[k] for c in cells)) for k in (cells[0].values if cells else {})},
        "overrides": {k: v for k, v in (overrides or {}).items()}, "engine": None,
        "started_utc": started.isoformat(timespec="seconds"), "wall_seconds": None, "status": "running",
        "cells_by_index": {},
    }
    previous = _previous_record(root)
    before = {c.get("key"): c for c in previous.get("cells", []) if c.get("status") == "ok"}
    todo = []
    for cell in cells:
        done = finished_entry(spec, preset, cell, root)
        if done is not None and cell.key in before:     # keep where and how it ran
            done = {**before[cell.key], **{k: v for k, v in done.items() if v is not None}}
        record["cells_by_index"][cell.index] = done or _base_entry(cell)
        if done is None:
            todo.append(cell)
    result = SweepResult(record, root / SWEEP_JSON)
    skipped = len(cells) - len(todo)
    if skipped:
        echo(f"{skipped} of {len(cells)} cells finished before: not run again")
    if not todo:                     # no cluster is started; the record keeps the engine that ran the cells
        record.update(engine=previous.get("engine"), started_utc=previous.get("started_utc", record["started_utc"]),
                      wall_seconds=previous.get("wall_seconds"), status="ok")
        record["last_run"] = {"started_utc": started.isoformat(timespec="seconds"), "computed": 0,
                              "note": "every cell had finished before: nothing computed, no cluster started"}
        _write(record, root, spec.name)
        return _finish(result, root)
    with open_engine(engine, len(todo)) as eng:
        record["engine"] = eng.info
        echo(f"{len(todo)} cell(s) on {eng.info['cluster']} at {eng.info['scheduler']}")
        _write(record, root, spec.name)
        futures = {}
        for cell in todo:
            (root / cell.folder / ".cell-starts").unlink(missing_ok=True)
            task = {"spec": spec, "preset": preset, "overrides": cell.overrides, "out": str(root / cell.folder),
                    "threads": eng.threads, "gpus": list(eng.gpus), "attempts": engine.kernel_attempts}
            future = eng.client.submit(run_cell_on_worker, task, key=f"medadv-{cell.run_name}-{cell.key}-"
                                       f"{uuid.uuid4().hex[:6]}", pure=False, resources=eng.resources)
            futures[future] = cell
            record["cells_by_index"][cell.index]["status"] = "submitted"
        done_count = 0
        try:
            for future in as_completed(list(futures)):
                cell = futures[future]
                if future.status == "finished":
                    res = future.result()
                else:                          # KilledWorker (its workers kept dying) or an engine error
                    exc = future.exception()
                    res = {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "attempts": None}
                entry = _result_entry(cell, res, root)
                record["cells_by_index"][cell.index] = entry
                done_count += 1
                result.computed += 1
                seconds = f" in {entry['seconds']:.0f} s" if entry.get("seconds") else ""
                echo(f"[{done_count}/{len(todo)}] {cell.label}: {entry['status']}{seconds}"
                     + (f": {entry['error'].splitlines()[0]}" if entry["status"] != "ok" and entry.get("error") else ""))
                _write(record, root, spec.name)
        except KeyboardInterrupt:
            for future, cell in futures.items():
                if not future.done():
                    future.cancel()
                    record["cells_by_index"][cell.index]["status"] = "interrupted"
            record.update(status="interrupted", wall_seconds=round(time.perf_counter() - t0, 1))
            _write(record, root, spec.name)
            result.interrupted = True
            raise
    record["wall_seconds"] = round(time.perf_counter() - t0, 1)
    record["last_run"] = {"started_utc": record["started_utc"], "computed": result.computed}
    return _finish(result, root, record, spec.name)


def _finish(result: SweepResult, root: Path, record: dict | None = None, chapter: str | None = None) -> SweepResult:
    if record is not None:
        failed = [e["label"] for e in record["cells_by_index"].values() if e["status"] != "ok"]
        record["status"] = "ok" if not failed else "failed"
        _write(record, root, chapter)
    result.record = read_sweep(root)
    result.failed = [c["label"] for c in result.record["cells"] if c["status"] != "ok"]
    return result


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "_cell":
        sys.exit(_cell_main(sys.argv[2]))
    sys.exit("usage: python -m medadv_lib.sweep _cell TASK (internal: one cell of `medadv sweep`)")

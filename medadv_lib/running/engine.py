"""The Dask engine every run of ours goes through, never a scheduler of our own: a ``LocalCluster``
by default (``workers x threads <= cores``; with GPUs, one worker per GPU), an existing scheduler
(``--scheduler ADDRESS``) or Slurm through ``dask_jobqueue.SLURMCluster`` (``--slurm``); and one
cell on a worker: ``python -m medadv_lib.running.engine _cell TASK``, a child process of the worker
(Dask's worker processes are daemonic, and papermill's working directory is per process) that
retries a kernel that failed to start and stops its run cleanly when its worker dies.

Used by :mod:`medadv_lib.running.sweep` (a grid of runs) and :mod:`medadv_lib.running.schedule`
(the book's runs)."""
from __future__ import annotations

import contextlib
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
from pathlib import Path
from typing import Any, Iterator

from ..specs import PaperSpec, ParameterError
from ..utils import atomic_write, set_environ

__all__ = ["KERNEL_ATTEMPTS", "SweepError", "SlurmOptions", "EngineOptions", "local_split", "local_gpus",
           "slurm_cluster", "open_engine", "execute_cell", "cell_task", "cell_environ", "run_cell_on_worker"]

#: Attempts to start a cell's kernel (a start that fails is retried after a short pause).
KERNEL_ATTEMPTS = 3
#: The folder that holds the library: put first on a cell's PYTHONPATH, so the child runs this code.
LIB_ROOT = Path(__file__).resolve().parents[2]
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
#: Set by Dask's nanny in every worker it starts (``distributed.nanny.pre-spawn-environ``), so in
#: every cell's child too unless undone. ``MALLOC_TRIM_THRESHOLD_=65536`` makes glibc hand freed
#: memory back to the system at once, and every tensor a training step allocates comes back
#: through fresh page faults: a backdoor smoke run took 141 s with it and 78 s without (two runs
#: side by side, one thread each, 2026-12-07; ``benchmarks/cell_environ.py``: 1.68x for the whole
#: sweep). A cell runs with the value of the process that submitted it (unset: glibc's default).
_NANNY_VARS = ("MALLOC_TRIM_THRESHOLD_",)


class SweepError(RuntimeError):
    """The engine could not be started or reached (no scheduler at the address, no Slurm)."""


# --------------------------------------------------------------------------- one cell

def execute_cell(spec: PaperSpec, preset: str, overrides: dict[str, Any], out: Path,
                 attempts: int = KERNEL_ATTEMPTS, pause: float = 2.0) -> dict[str, Any]:
    """Run one cell in this process: :func:`~medadv_lib.running.runner.run_notebook`, retrying a kernel
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
    """``python -m medadv_lib.running.engine _cell TASK``: the child process of one cell."""
    task = pickle.loads(Path(task_path).read_bytes())
    _watch_parent()
    result = execute_cell(task["spec"], task["preset"], task["overrides"], Path(task["out"]),
                          attempts=task.get("attempts", KERNEL_ATTEMPTS))
    with atomic_write(task["result"], "w") as handle:
        json.dump(result, handle, default=str)
    return 0


def cell_task(spec: PaperSpec, preset: str, overrides: dict[str, Any], out: Path, *, threads: int | None,
              gpus=(), attempts: int = KERNEL_ATTEMPTS, work: Path | None = None,
              environ: dict[str, str | None] | None = None) -> dict[str, Any]:
    """The task of one cell for :func:`run_cell_on_worker`. ``environ``: the submitting command's
    values (None: unset) of each variable a Dask worker is started with (:data:`_NANNY_VARS`),
    taken before its cluster started (an open engine's ``environ``; default: this process's now),
    which the cell gets back in place of the worker's."""
    if environ is None:
        environ = {var: os.environ.get(var) for var in _NANNY_VARS}
    task = {"spec": spec, "preset": preset, "overrides": overrides, "out": str(out), "threads": threads,
            "gpus": list(gpus), "attempts": attempts, "environ": dict(environ)}
    if work is not None:
        task["work"] = str(work)
    return task


def cell_environ(task: dict[str, Any], base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a cell's child process: ``base`` (default this worker's) with the
    submitter's values of :data:`_NANNY_VARS` (``task["environ"]``) and the cell's thread count."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(LIB_ROOT), env.get("PYTHONPATH", "")) if p)
    set_environ(task.get("environ") or {}, env)
    if task.get("threads"):
        env.update({var: str(task["threads"]) for var in _THREAD_VARS})
    return env


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
    env = cell_environ(task)
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
            proc = subprocess.run([task.get("python") or sys.executable, "-m", "medadv_lib.running.engine", "_cell",
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
    #: This command's values of :data:`_NANNY_VARS` before any cluster started (None: unset).
    environ: dict[str, str | None] = field(default_factory=dict)


@contextlib.contextmanager
def _environ_kept() -> Iterator[None]:
    """Undo what starting a cluster does to this process's environment: Dask's nanny writes its
    ``pre-spawn-environ`` (``MALLOC_TRIM_THRESHOLD_``, the thread counts) into ``os.environ``
    before it spawns a worker and leaves it there, where every later child would inherit it; it
    also marks this process as a parent of Dask processes (``__DASK_PARENT_PID``,
    ``distributed.proctitle.enable_proctitle_on_children``). Only the nanny's variables are put
    back; nothing else of the environment is touched."""
    import dask

    names = set(_NANNY_VARS) | set(_THREAD_VARS) | {"PYTHONHASHSEED", "__DASK_PARENT_PID"}
    for section in ("distributed.nanny.pre-spawn-environ", "distributed.nanny.environ"):
        names |= set(dask.config.get(section, default={}) or {})
    saved = {var: os.environ.get(var) for var in names}
    try:
        yield
    finally:
        set_environ(saved)


@contextlib.contextmanager
def open_engine(options: EngineOptions, n_cells: int) -> Iterator[_Engine]:
    """Start (or join) the Dask cluster; close what this command started, however it ends."""
    with _environ_kept():
        environ = {var: os.environ.get(var) for var in _NANNY_VARS}
        with _open_engine(options, n_cells) as engine:
            engine.environ = environ
            yield engine


@contextlib.contextmanager
def _open_engine(options: EngineOptions, n_cells: int) -> Iterator[_Engine]:
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
        with _environ_kept():
            cluster = slurm_cluster(options.slurm)
        try:
            with _environ_kept():
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
    with _environ_kept():   # this process keeps its own environment while the cluster runs
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


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "_cell":
        sys.exit(_cell_main(sys.argv[2]))
    sys.exit("usage: python -m medadv_lib.running.engine _cell TASK (internal: one cell of `medadv sweep` or `medadv book`)")

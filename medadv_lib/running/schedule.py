"""The book's one schedule (issue 31): every run of ``medadv book`` as one Dask graph.

The chapters on the synthetic default and on each real dataset, the robustness matrix's pages, the
evaluation pages and every replication cell are :class:`Job`\\ s of one graph on the engine the
sweeps use (:func:`medadv_lib.running.engine.open_engine`: a ``LocalCluster`` by default, ``--scheduler``
or ``--slurm``), each one papermill notebook run in a child process of its worker
(:func:`medadv_lib.running.engine.run_cell_on_worker`) with its provenance.

* **Dependencies.** A matrix page waits for the chapters' runs on its dataset
  (:func:`medadv_lib.book.build.run_dependencies`); a replication cell waits for nothing, and the cell
  that *is* the book's own run (same paper, preset and parameters: the seed-0 cell) is no job at
  all: the book's page is adopted into the sweep when it is done (:func:`medadv_lib.book.build.adopt_book_run`),
  so no run is executed twice.
* **Longest first.** Each job's priority is its expected cost plus the longest chain of jobs that
  wait for it (its upward rank), so that the runs that hold the others up start first and every
  core stays busy to the end.
* **Costs and the ETA.** A run's expected seconds come from its last provenance (the last build's
  measured ``wall_seconds``), else from the chapter's spec (``expected_seconds`` per preset,
  measured by ``benchmarks/setup_time.py``); :func:`eta_seconds` simulates the schedule on the engine's workers.
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..specs import PaperSpec

__all__ = ["Job", "UNKNOWN_SECONDS", "expected_seconds", "ranks", "eta_seconds", "run_jobs", "JobResult"]

#: A chapter whose spec declares no cost for the preset (one's own): this many seconds per run.
UNKNOWN_SECONDS = 300


@dataclass(frozen=True)
class Job:
    """One run of the book's graph: ``spec`` at ``preset`` with ``overrides`` into ``out``.

    ``after``: the names of the jobs it waits for; ``cost``: its expected seconds; ``work``: the
    folder of its log and bookkeeping (default ``out``); ``replication``: the sweep folder of a
    replication cell (None: a page of the book)."""

    name: str
    spec: PaperSpec
    preset: str
    overrides: dict = field(default_factory=dict)
    out: Path = Path(".")
    after: tuple[str, ...] = ()
    cost: float = 0.0
    work: Path | None = None
    replication: str | None = None


@dataclass
class JobResult:
    job: Job
    status: str
    seconds: float | None
    error: str | None = None
    notebook: str | None = None


def expected_seconds(spec: PaperSpec, preset: str, run_name: str | None = None, folder: Path | None = None) -> float:
    """The expected seconds of one run: the provenance of the run ``run_name`` in ``folder`` from
    an earlier build (its measured ``wall_seconds``), else the spec's declared
    :attr:`~medadv_lib.specs.PaperSpec.expected_seconds` for ``preset``."""
    if folder is not None and run_name:
        prov = Path(folder) / f"{run_name}.provenance.json"
        try:
            record = json.loads(prov.read_text())
            if record.get("preset") == preset and record.get("wall_seconds"):
                return float(record["wall_seconds"])
        except (OSError, ValueError):
            pass
    return float(spec.expected_seconds.get(preset, UNKNOWN_SECONDS))


def ranks(jobs: list[Job]) -> dict[str, float]:
    """Each job's upward rank: its cost plus the longest chain of jobs waiting for it (the
    critical-path priority of list scheduling)."""
    waiting: dict[str, list[str]] = {j.name: [] for j in jobs}
    for j in jobs:
        for dep in j.after:
            if dep in waiting:
                waiting[dep].append(j.name)
    by_name, memo = {j.name: j for j in jobs}, {}

    def rank(name: str) -> float:
        if name not in memo:
            memo[name] = by_name[name].cost + max((rank(w) for w in waiting[name]), default=0.0)
        return memo[name]

    return {j.name: rank(j.name) for j in jobs}


def eta_seconds(jobs: list[Job], workers: int, done: set[str] | frozenset = frozenset(),
                running: dict[str, float] | None = None) -> float:
    """The seconds until every job of ``jobs`` is done on ``workers`` workers, by simulating the
    schedule (highest rank first, each job once its ``after`` are done); ``done``: finished jobs;
    ``running``: the seconds each running job has already run."""
    running = dict(running or {})
    order = ranks(jobs)
    by_name = {j.name: j for j in jobs}
    finished, clock = set(done), 0.0
    busy = [(max(0.0, by_name[n].cost - ran), n) for n, ran in running.items()]
    pending = [j.name for j in jobs if j.name not in finished and j.name not in running]
    while pending or busy:
        ready = sorted((n for n in pending if set(by_name[n].after) <= finished), key=lambda n: -order[n])
        while ready and len(busy) < max(1, workers):
            n = ready.pop(0)
            pending.remove(n)
            busy.append((clock + by_name[n].cost, n))
        if not busy:                       # a job waits for one outside ``jobs``: count it as ready
            n = pending.pop(0)
            busy.append((clock + by_name[n].cost, n))
        busy.sort()
        clock, n = busy.pop(0)
        finished.add(n)
    return clock


def _task(job: Job, engine, attempts) -> dict[str, Any]:
    from .engine import cell_task

    return cell_task(job.spec, job.preset, job.overrides, job.out, threads=engine.threads, gpus=engine.gpus,
                     attempts=attempts, work=job.work or job.out, environ=getattr(engine, "environ", None))


def _run_after(worker: Callable, task: dict, *after) -> dict:
    """The Dask task of one job: ``after`` are the results of the jobs it waits for (their futures
    make Dask hold it back; a failed one does not stop it: a matrix page then trains what it lacks)."""
    return worker(task)


def run_jobs(jobs: list[Job], engine, *, worker: Callable | None = None, echo: Callable[[str], None] = print,
             on_done: Callable[[JobResult, dict], None] | None = None) -> list[JobResult]:
    """Run ``jobs`` on ``engine`` (an open :func:`medadv_lib.running.engine.open_engine`), each once its
    ``after`` are done, the highest rank first; ``on_done(result, state)`` after each (``state``:
    done and running job names, the ETA). ``worker(task) -> result dict`` runs one job (default
    :func:`medadv_lib.running.engine.run_cell_on_worker`). Returns every job's result; a failed job does
    not stop the others. ``KeyboardInterrupt`` cancels what has not finished and is re-raised."""
    from distributed import as_completed

    from .engine import KERNEL_ATTEMPTS, run_cell_on_worker

    worker = worker or run_cell_on_worker
    names = [j.name for j in jobs]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate job names: {sorted({n for n in names if names.count(n) > 1})}")
    order = ranks(jobs)
    futures, submitted = {}, {}
    for job in _topological(jobs):
        after = [submitted[d] for d in job.after if d in submitted]
        future = engine.client.submit(_run_after, worker, _task(job, engine, KERNEL_ATTEMPTS),
                                      *after, key=f"medadv-{job.name}-{uuid.uuid4().hex[:6]}", pure=False,
                                      priority=int(order[job.name]), resources=engine.resources)
        futures[future], submitted[job.name] = job, future
    workers = max(1, int(engine.info.get("workers") or engine.info.get("jobs") or 1))
    t0, results, done = time.perf_counter(), [], set()
    echo(f"== {len(jobs)} runs on {engine.info.get('cluster')}, {workers} side by side; "
         f"ETA {eta_seconds(jobs, workers) / 60:.0f} min (expected costs)")
    try:
        for future in as_completed(list(futures)):
            job = futures[future]
            if future.status == "finished":
                res = future.result()
            else:
                exc = future.exception()
                res = {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "seconds": None}
            result = JobResult(job, res.get("status", "failed"), res.get("seconds"), res.get("error"),
                               res.get("notebook"))
            results.append(result)
            done.add(job.name)
            elapsed = time.perf_counter() - t0
            # the jobs not done, at their expected costs (one that is running counts whole: an upper bound)
            left = eta_seconds(jobs, workers, done) if len(done) < len(jobs) else 0.0
            seconds = f" in {result.seconds:.0f} s" if result.seconds else ""
            echo(f"== [{len(done)}/{len(jobs)}] {job.name}: {result.status}{seconds}"
                 + (f": {str(result.error).splitlines()[0]}" if result.status != "ok" and result.error else "")
                 + (f"; ETA {left / 60:.0f} min" if len(done) < len(jobs) else ""))
            if on_done is not None:
                on_done(result, {"done": set(done), "eta_seconds": left, "elapsed": elapsed})
    except KeyboardInterrupt:
        for future in futures:
            if not future.done():
                future.cancel()
        raise
    order_of = {n: k for k, n in enumerate(names)}
    return sorted(results, key=lambda r: order_of[r.job.name])


def _topological(jobs: list[Job]) -> list[Job]:
    by_name, seen, out = {j.name: j for j in jobs}, set(), []

    def visit(job: Job, trail: tuple = ()):
        if job.name in seen:
            return
        if job.name in trail:
            raise ValueError(f"the jobs wait for each other in a cycle: {' -> '.join(trail + (job.name,))}")
        for dep in job.after:
            if dep not in by_name:
                raise ValueError(f"job {job.name} waits for {dep}, which is no job")
            visit(by_name[dep], trail + (job.name,))
        seen.add(job.name)
        out.append(job)

    for job in jobs:
        visit(job)
    return out

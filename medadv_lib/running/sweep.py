"""``medadv sweep``: one chapter over a grid of parameters, each cell one ``medadv run``, on Dask.

    medadv sweep NAME --grid 'seed=[0,1,2,3]' [--grid 'dataset=[kermany,nih-cxr14]'] [-p NAME VALUE]...
                 [--preset P] [--data-dir DIR] --out DIR
                 [--workers N --threads T | --scheduler ADDRESS | --slurm --partition P --walltime T ...]

* **Cells.** The grid's cartesian product; each cell is the chapter's notebook run by
  :func:`medadv_lib.running.runner.run_notebook` (papermill, provenance, ``.failed.ipynb`` on failure)
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
  papermill's working directory is per process; :mod:`medadv_lib.running.engine`). The
  child retries a kernel that failed to start (:class:`~medadv_lib.running.runner.KernelStartError`), and
  stops its run cleanly when its worker dies; Dask then re-runs the cell on another worker.
* **Nothing done twice.** A cell whose folder holds a finished run (notebook, and provenance with
  status ``ok`` whose parameters hash to the cell's key) is not run again: a second sweep
  computes nothing. Failed cells keep their ``.failed.ipynb``; the others finish; Ctrl-C cancels
  what runs and keeps every finished cell. Parallel cells share the model cache safely
  (:mod:`medadv_lib.cache`: per-configuration training lock, atomic files, locked manifest).
* **``DIR/sweep.json``**, rewritten atomically after every cell: the engine and its scheduler
  address, one entry per cell (parameters, status, notebook, provenance, seconds, worker) and the
  aggregate of :mod:`medadv_lib.verdicts.replication` (each claim's verdicts in k of m cells, headline
  metrics' mean +- sd and range).
"""
from __future__ import annotations

import contextlib
import itertools
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional, TypedDict

import yaml

from ..specs import PaperSpec, ParameterError, resolve_parameters
from ..utils import atomic_write, config_key
from .engine import EngineOptions, SweepError, cell_task, open_engine, run_cell_on_worker

__all__ = ["SWEEP_JSON", "Cell", "CellEntry", "SweepResult", "parse_grid", "plan_cells", "parameter_key", "run_sweep",
           "finished_entry", "read_sweep"]

SWEEP_JSON = "sweep.json"
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
    from ..data.registry import find_data

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


# --------------------------------------------------------------------------- the sweep

def _rel(path: str | Path | None, root: Path) -> str | None:
    if not path:
        return None
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


class _CellEntryFields(TypedDict):
    index: int
    label: str                         # "seed=0, dataset=kermany"
    values: dict                       # the grid's values of this cell
    parameters: dict                   # its resolved parameters
    key: str                           # their hash (parameter_key)
    folder: str
    status: str                        # pending, ok, failed or interrupted
    notebook: Optional[str]
    provenance: Optional[str]
    failed_notebook: Optional[str]
    error: Optional[str]
    seconds: Optional[float]
    attempts: Optional[int]            # kernel starts of the last run
    worker_starts: Optional[int]       # how often a worker started it (a dead worker's cell restarts)
    worker: Optional[str]
    gpu: Optional[str]
    computed: Optional[bool]           # False: finished by an earlier sweep


class CellEntry(_CellEntryFields, total=False):
    """One cell's entry in ``sweep.json``: written here only (:func:`finished_entry` for a cell
    finished before, else after it ran), read back by :func:`read_sweep`; paths relative to the
    sweep's folder. The fields above are in every entry; these two only where they apply."""

    data: Any                          # the provenance's data record, for a finished cell
    kernel_errors: list                # the kernel starts that failed before the run


def _base_entry(cell: Cell) -> CellEntry:
    return CellEntry(index=cell.index, label=cell.label, values=cell.values, parameters=cell.parameters,
                     key=cell.key, folder=cell.folder, status="pending", notebook=None, provenance=None,
                     failed_notebook=None, error=None, seconds=None, attempts=None, worker_starts=None,
                     worker=None, gpu=None, computed=None)


def finished_entry(spec: PaperSpec, preset: str, cell: Cell, root: Path) -> CellEntry | None:
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


def _result_entry(cell: Cell, result: dict, root: Path) -> CellEntry:
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
    """A sweep's record (``sweep.json``), every cell entry checked against :class:`CellEntry`."""
    path = Path(folder) / SWEEP_JSON
    record = json.loads(path.read_text())
    for entry in record.get("cells", []):
        missing = sorted(CellEntry.__required_keys__ - set(entry))
        if missing:
            raise SweepError(f"{path}: cell {entry.get('label', '?')!r} lacks {', '.join(missing)} "
                             "(written by an older medadv? run the sweep again: finished cells are kept)")
    return record


def _write(record: dict, root: Path, spec: PaperSpec) -> None:
    from ..verdicts.replication import aggregate

    cells = sorted(record["cells_by_index"].values(), key=lambda e: e["index"])
    out = {k: v for k, v in record.items() if k != "cells_by_index"}
    out["cells"] = cells
    out.update(aggregate(cells, root, spec.replication_tables()))
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
        _write(record, root, spec)
        return _finish(result, root)
    with open_engine(engine, len(todo)) as eng:
        record["engine"] = eng.info
        echo(f"{len(todo)} cell(s) on {eng.info['cluster']} at {eng.info['scheduler']}")
        _write(record, root, spec)
        futures = {}
        for cell in todo:
            (root / cell.folder / ".cell-starts").unlink(missing_ok=True)
            task = cell_task(spec, preset, cell.overrides, root / cell.folder, threads=eng.threads, gpus=eng.gpus,
                             attempts=engine.kernel_attempts, environ=eng.environ)
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
                _write(record, root, spec)
        except KeyboardInterrupt:
            for future, cell in futures.items():
                if not future.done():
                    future.cancel()
                    record["cells_by_index"][cell.index]["status"] = "interrupted"
            record.update(status="interrupted", wall_seconds=round(time.perf_counter() - t0, 1))
            _write(record, root, spec)
            result.interrupted = True
            raise
    record["wall_seconds"] = round(time.perf_counter() - t0, 1)
    record["last_run"] = {"started_utc": record["started_utc"], "computed": result.computed}
    return _finish(result, root, record, spec)


def _finish(result: SweepResult, root: Path, record: dict | None = None, spec: PaperSpec | None = None) -> SweepResult:
    if record is not None:
        failed = [e["label"] for e in record["cells_by_index"].values() if e["status"] != "ok"]
        record["status"] = "ok" if not failed else "failed"
        _write(record, root, spec)
    result.record = read_sweep(root)
    result.failed = [c["label"] for c in result.record["cells"] if c["status"] != "ok"]
    return result

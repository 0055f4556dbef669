"""Execute a paper's notebook with papermill, from its jupytext source, safely.

* Parameters are resolved and checked first (:func:`medadv_lib.specs.resolve_parameters`).
* The notebook runs in a private work folder; only a successful run replaces
  ``<out>/<name>.ipynb`` (atomic rename; ``<name>`` is the paper's name, with ``--<dataset>`` for
  a run on a real dataset), so the last good executed notebook is never lost.
  A failed run is kept as ``<out>/<name>.failed.ipynb`` and :class:`RunError` names the cell.
  An interrupted run (Ctrl-C) leaves the last good notebook and removes its work folder; work
  folders of runs that were killed outright are removed by the next run.
* The kernel talks to the runner over IPC sockets, not TCP: runs need no network, not even
  loopback.
* Progress of the library's long loops (training, attack sweeps) is shown on the runner's
  terminal (:mod:`medadv_lib.progress`), never written into the notebook.
* The executed copy is made self-describing: papermill's injected-parameters cell is removed and
  the ``parameters`` cell shows the values actually used; provenance goes to
  ``<out>/<name>.provenance.json`` and into the notebook metadata.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import nbformat

from ..data.registry import get_dataset
from ..papers import get_paper
from ..progress import CHANNEL_ENV
from ..specs import REPO_ROOT, PaperSpec, resolve_parameters, undecidable
from ..utils import atomic_write, set_environ
from .kernel import KERNEL, WORKDIR_PREFIX, CtrlC, KernelProcess, clean_stale_workdirs, workdir
from .provenance import record, write_record

__all__ = ["RunError", "KernelStartError", "run_notebook", "source_notebook", "finalize_notebook", "DEFAULT_OUT",
           "clean_stale_workdirs", "WORKDIR_PREFIX"]

DEFAULT_OUT = REPO_ROOT / "runs"


class RunError(RuntimeError):
    """A notebook failed while executing; the message names the failing cell."""


class KernelStartError(RunError):
    """The kernel failed before it ran any cell (it did not start or did not answer): worth a
    retry, unlike a failing cell. Parallel kernels race for ports and sockets (papermill #239,
    #511; jupyter_client #487)."""


def _no_cell_ran(dst: Path) -> bool:
    """Whether papermill's output notebook shows that no cell began executing."""
    if not dst.is_file():
        return True
    try:
        nb = nbformat.read(dst, as_version=4)
    except Exception:           # a notebook papermill never finished writing
        return True
    # papermill stamps a cell's start_time when it begins executing it (its status of a cell that
    # never ran reads "completed" once the notebook ends, so it cannot tell).
    return all(c.metadata.get("papermill", {}).get("start_time") is None for c in nb.cells)


def source_notebook(spec: PaperSpec) -> nbformat.NotebookNode:
    """The jupytext source as an ipynb notebook with a kernelspec papermill can use."""
    import jupytext

    if not spec.notebook.is_file():
        raise RunError(f"notebook source not found: {spec.notebook}")
    nb = jupytext.read(spec.notebook)
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nb.metadata.setdefault("language_info", {"name": "python"})
    return nb


def _shown(name: str, value: Any) -> Any:
    """A value as the rendered page shows it: a data folder (or an evaluated model's file) relative
    to the project, never an absolute path of the build machine."""
    if name in ("data_root", "model_file") and value and Path(str(value)).is_absolute():
        return os.path.relpath(str(value), REPO_ROOT)
    return value


def _parameters_source(parameters: dict[str, Any], preset: str) -> str:
    lines = [f"# Parameters of this run (preset {preset!r}); change them with",
             "# `medadv run NAME -p NAME VALUE` or papermill's -p."]
    lines += [f"{name} = {_shown(name, value)!r}" for name, value in parameters.items()]
    return "\n".join(lines)


def finalize_notebook(nb: nbformat.NotebookNode, parameters: dict[str, Any], preset: str,
                      provenance: dict | None = None) -> nbformat.NotebookNode:
    """Drop papermill's injected cell, show the effective values in the parameters cell and, on a
    real dataset, name it in the page title ("paper, dataset": the book's sidebar tells the runs of
    a chapter apart)."""
    cells = []
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags:
            continue
        if "parameters" in tags:
            cell.source = _parameters_source(parameters, preset)
        cells.append(cell)
    nb.cells = cells
    _title_with_dataset(nb, parameters.get("dataset", "synthetic"))
    if provenance is not None:
        nb.metadata["medadv"] = provenance
    return nb


def _title_with_dataset(nb: nbformat.NotebookNode, dataset: str) -> None:
    """Append ", on <dataset title>" to the first ``# `` heading of a real-data run (once)."""
    if dataset == "synthetic":
        return
    suffix = f", on {get_dataset(dataset).title}"
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("# "):
                if not line.endswith(suffix):
                    lines[i] = line.rstrip() + suffix
                    cell.source = "\n".join(lines)
                return


def _failure_message(name: str, exc: Exception, failed_path: Path) -> str:
    cell = getattr(exc, "exec_count", None) or getattr(exc, "cell_index", "?")
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    return (f"{name}: cell [{cell}] failed with {ename}: {evalue}\n"
            f"  the failed notebook is at {failed_path}; the last good run was left in place")


# --------------------------------------------------------------------------- progress

class _ProgressReporter(threading.Thread):
    """Shows the latest progress line the kernel wrote to the channel file on our stderr: redrawn
    in place on a terminal, at most one line every 15 s otherwise (CI logs)."""

    def __init__(self, path: Path, name: str, stream=None):
        super().__init__(daemon=True)
        self.path, self.name = path, name
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.done = threading.Event()
        self.shown = False

    def run(self) -> None:
        position, pending, last_print = 0, "", 0.0
        while not self.done.wait(0.5):
            try:
                with open(self.path, encoding="utf-8", errors="replace") as handle:
                    handle.seek(position)
                    pending += handle.read()
                    position = handle.tell()
            except FileNotFoundError:
                continue
            parts = [p.strip() for p in pending.replace("\r", "\n").split("\n")]
            pending = ""
            latest = next((p for p in reversed(parts) if p), None)
            if latest is None:
                continue
            now = time.monotonic()
            if self.tty:
                width = shutil.get_terminal_size((120, 20)).columns - 1
                self.stream.write("\r\x1b[K" + f"{self.name}: {latest}"[:width])
                self.stream.flush()
                self.shown = True
            elif now - last_print >= 15:
                self.stream.write(f"{self.name}: {latest}\n")
                self.stream.flush()
                last_print = now

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=2)
        if self.tty and self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        set_environ(saved)


# --------------------------------------------------------------------------- running

def run_notebook(paper: str | PaperSpec, preset: str = "default", overrides: dict[str, Any] | None = None,
                 out_dir: str | Path | None = None, progress: bool = True) -> Path:
    """Execute a paper's notebook (by name or spec); return the path of the executed notebook.

    Raises :class:`~medadv_lib.specs.ParameterError` before anything runs for bad parameters,
    :class:`RunError` when a cell fails, and lets ``KeyboardInterrupt`` through after cleaning up
    (the caller says so in one line)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    spec = paper if isinstance(paper, PaperSpec) else get_paper(paper)
    parameters = resolve_parameters(spec, preset, overrides)  # all checks before heavy work
    name = spec.run_name(parameters)                          # NAME, or NAME--DATASET on real data
    weak = undecidable(spec, parameters)                      # said before papermill starts
    if weak and progress:
        print(f"{name}: {len(weak)} claim(s) cannot be decided at these sample sizes (they will read "
              "'cannot be tested'):\n  " + "\n  ".join(weak), file=sys.stderr, flush=True)
    out = Path(out_dir) if out_dir else DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)
    clean_stale_workdirs()
    target, failed = out / f"{name}.ipynb", out / f"{name}.failed.ipynb"
    started, t0 = datetime.now().astimezone(), time.perf_counter()
    with workdir(name) as work:
        channel = work / "progress.log"
        channel.touch()
        kernel = KernelProcess(work)
        reporter = _ProgressReporter(channel, name) if progress else None
        src, dst = work / "source.ipynb", work / "executed.ipynb"
        nbformat.write(source_notebook(spec), src)
        # TQDM_DISABLE silences any foreign bar; the library's bars go to the channel instead.
        with _environment(TQDM_DISABLE="1", **{CHANNEL_ENV: str(channel)}), CtrlC(kernel) as ctrl_c:
            if reporter is not None:
                reporter.start()
            try:
                papermill.execute_notebook(str(src), str(dst), parameters=parameters, kernel_name=KERNEL,
                                           cwd=str(out), progress_bar=False,
                                           kernel_manager_class=kernel.manager_class())
            except PapermillExecutionError as exc:
                if ctrl_c.count:
                    raise KeyboardInterrupt from None
                executed = nbformat.read(dst, as_version=4) if dst.is_file() else source_notebook(spec)
                with atomic_write(failed, "w") as handle:
                    nbformat.write(executed, handle)
                raise RunError(_failure_message(name, exc, failed)) from None
            except Exception as exc:          # the kernel died or never started: say why
                if ctrl_c.count:
                    raise KeyboardInterrupt from None
                tail = kernel.log_tail()
                error = KernelStartError if _no_cell_ran(dst) else RunError
                raise error(f"{name}: the kernel failed ({type(exc).__name__}: {exc})"
                            + (f"; its last output:\n{tail}" if tail else "")) from None
            finally:
                if reporter is not None:
                    reporter.stop()
        seconds = time.perf_counter() - t0
        prov = record(name, spec.title, preset, parameters, started, seconds, "ok", REPO_ROOT)
        prov["paper"] = spec.name
        nb = finalize_notebook(nbformat.read(dst, as_version=4), parameters, preset, prov)
        with atomic_write(target, "w") as handle:
            nbformat.write(nb, handle)
        write_record(out / f"{name}.provenance.json", prov)
        if failed.exists():
            failed.unlink()
    return target

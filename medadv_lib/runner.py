"""Execute a paper's notebook with papermill, from its jupytext source, safely.

* Parameters are resolved and checked first (:func:`medadv_lib.papers.resolve_parameters`).
* The notebook runs into a temporary file; only a successful run replaces
  ``<out>/<name>.ipynb`` (atomic rename), so the last good executed notebook is never lost.
  A failed run is kept as ``<out>/<name>.failed.ipynb`` and :class:`RunError` names the cell.
* The executed copy is made self-describing: papermill's injected-parameters cell is removed and
  the ``parameters`` cell shows the values actually used; provenance goes to
  ``<out>/<name>.provenance.json`` and into the notebook metadata.
"""
from __future__ import annotations

import os
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import nbformat

from .papers import REPO_ROOT, PaperSpec, get_paper, resolve_parameters
from .provenance import record, write_record
from .utils import atomic_write

__all__ = ["RunError", "run_notebook", "source_notebook", "finalize_notebook", "DEFAULT_OUT"]

DEFAULT_OUT = REPO_ROOT / "runs"
KERNEL = "python3"


class RunError(RuntimeError):
    """A notebook failed while executing; the message names the failing cell."""


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


def _parameters_source(parameters: dict[str, Any], preset: str) -> str:
    lines = [f"# Parameters of this run (preset {preset!r}); change them with",
             "# `medadv run NAME -p NAME VALUE` or papermill's -p."]
    lines += [f"{name} = {value!r}" for name, value in parameters.items()]
    return "\n".join(lines)


def finalize_notebook(nb: nbformat.NotebookNode, parameters: dict[str, Any], preset: str,
                      provenance: dict | None = None) -> nbformat.NotebookNode:
    """Drop papermill's injected cell and show the effective values in the parameters cell."""
    cells = []
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags:
            continue
        if "parameters" in tags:
            cell.source = _parameters_source(parameters, preset)
        cells.append(cell)
    nb.cells = cells
    if provenance is not None:
        nb.metadata["medadv"] = provenance
    return nb


def _failure_message(name: str, exc: Exception, failed_path: Path) -> str:
    cell = getattr(exc, "exec_count", None) or getattr(exc, "cell_index", "?")
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    return (f"{name}: cell [{cell}] failed with {ename}: {evalue}\n"
            f"  the failed notebook is at {failed_path}; the last good run was left in place")


def run_notebook(paper: str | PaperSpec, preset: str = "default", overrides: dict[str, Any] | None = None,
                 out_dir: str | Path | None = None, progress: bool = True) -> Path:
    """Execute a paper's notebook (by name or spec); return the path of the executed notebook."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    spec = paper if isinstance(paper, PaperSpec) else get_paper(paper)
    name = spec.name
    parameters = resolve_parameters(spec, preset, overrides)  # all checks before heavy work
    out = Path(out_dir) if out_dir else DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)
    target, failed = out / f"{name}.ipynb", out / f"{name}.failed.ipynb"
    env_backup = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"  # progress bars would clutter the saved outputs
    started, t0 = datetime.now().astimezone(), time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix=f"medadv-{name}-") as tmp:
            src, dst = Path(tmp) / "source.ipynb", Path(tmp) / "executed.ipynb"
            nbformat.write(source_notebook(spec), src)
            try:
                papermill.execute_notebook(str(src), str(dst), parameters=parameters,
                                           kernel_name=KERNEL, cwd=str(out), progress_bar=progress)
            except PapermillExecutionError as exc:
                executed = nbformat.read(dst, as_version=4) if dst.is_file() else source_notebook(spec)
                with atomic_write(failed, "w") as handle:
                    nbformat.write(executed, handle)
                raise RunError(_failure_message(name, exc, failed)) from None
            seconds = time.perf_counter() - t0
            prov = record(name, spec.title, preset, parameters, started, seconds, "ok", REPO_ROOT)
            nb = finalize_notebook(nbformat.read(dst, as_version=4), parameters, preset, prov)
            with atomic_write(target, "w") as handle:
                nbformat.write(nb, handle)
            write_record(out / f"{name}.provenance.json", prov)
            if failed.exists():
                failed.unlink()
    finally:
        if env_backup is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = env_backup
    return target

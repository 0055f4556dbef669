"""Where a book build's time goes, by stage: kernel start, data, training, attacks, UAPs, metrics,
figures, book build (issue 22's profile, ``make profile``).

Cheap instrumentation, nothing added to the library: papermill records every cell's duration in the
executed notebook (``cell.metadata.papermill.duration``) and the runner records the run's wall time
(``metadata.medadv.wall_seconds``). Each code cell is put in one stage by its main call (the
chapters' cells make one library call each, so the call names the stage: :data:`STAGES`).
"kernel start" is the run's wall time not spent in any cell (kernel start-up, papermill's
conversion and writing) plus the imports and set-up cells. A cell that does two stages at once is
counted in its main call's: the robustness matrix's one ``ex.collection_models`` cell (attacks)
also trains whatever models the cache lacks (nothing after the chapters ran).

Modes:

* ``--from DIR``: profile notebooks already executed (``book/notebooks``, a ``medadv run --out``
  folder); nothing runs.
* otherwise: execute the book's runs (:func:`medadv_lib.book.book_runs`; ``--preset``,
  ``--data-dir``, ``--names``) from one empty model cache, ``--jobs`` side by side, into a temporary
  folder, time the whole, then profile them; ``--build`` also times ``jupyter-book build`` on them
  (into a temporary copy of the book's sources, the project's ``_build`` is not touched).

Prints a table (seconds per run and stage), the totals per stage with their share, and last lines
``stage_<name>_s=<seconds>`` and ``profile_total_s=<sum over runs>`` (and ``wall_s=<elapsed>`` when
it executed). ``--json PATH`` writes the same numbers. Usage:
``python benchmarks/profile_book.py [--preset default] [--data-dir ../shared/data] [--jobs N]
[--names smia ...] [--build] [--from DIR] [--json PATH]``.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: (stage, pattern on the name of a cell's main call), first match wins. The main call is the cell's
#: first call of the chapter's modules (``ex.``, ``figures.``), else its first call of anything
#: but display helpers; a cell that only imports and sets up (seed, device, warnings) is start-up.
STAGES = [
    ("controls, ladders", r"positive_control|scale_ladder"),     # issue 20's positive controls and scale ladders
    ("figures", r"^figures\.|figure|plot|gradcam|heatmap"),
    ("UAPs", r"uap|universal"),
    ("training", r"train|fit|finetune"),
    ("attacks", r"attack|sweep|run_all|smia|infected|collection_models|outcomes|perturb|transfer|robust|trigger"),
    ("metrics", r"claim|table|evaluat|metric|headline|comparison|success|rate|visib|perceptib|score|report"),
    ("data", r"load|data|split"),
    ("kernel start", r"resolve_device|seed_everything|filterwarnings|set_num_threads"),
]
ORDER = ["kernel start", "data", "training", "attacks", "UAPs", "controls, ladders", "metrics", "figures",
         "other"]
_DISPLAY = {"display", "Markdown", "print", "len", "range", "dict", "list", "zip", "sorted", "id", "format",
            "str", "int", "float", "round", "sum", "min", "max", "enumerate", "tuple", "set", "mean"}


def _key(stage: str) -> str:
    """A stage's name as a ``key=value`` key: ``controls, ladders`` -> ``controls_ladders``."""
    return re.sub(r"\W+", "_", stage)


def main_call(source: str) -> str | None:
    """The call that names a cell's stage (see :data:`STAGES`); None when it calls nothing."""
    code = "\n".join(ln for ln in source.splitlines() if not ln.strip().startswith("#"))
    calls = re.findall(r"([A-Za-z_][\w.]*)\s*\(", code)
    chapter = [c for c in calls if c.startswith(("ex.", "figures."))]
    if chapter:
        return chapter[0]
    others = [c for c in calls if c.split(".")[-1] not in _DISPLAY and not c.startswith("plt.")]
    return others[0] if others else None


def classify(source: str, first_code_cell: bool = False) -> str:
    """The stage of one code cell (see :data:`STAGES`)."""
    lines = [ln.strip() for ln in source.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    if first_code_cell and lines and all(ln.startswith(("import ", "from ", "%")) for ln in lines):
        return "kernel start"
    call = main_call(source)
    if call is None:
        return "kernel start" if first_code_cell else "other"
    for stage, pattern in STAGES:
        if re.search(pattern, call):
            return stage
    return "other"


def profile_notebook(nb: dict) -> dict[str, float]:
    """Seconds per stage of one executed notebook (a dict as ``json.load`` reads it)."""
    stages = dict.fromkeys(ORDER, 0.0)
    cells_total, first = 0.0, True
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        seconds = float((cell.get("metadata", {}).get("papermill") or {}).get("duration") or 0.0)
        cells_total += seconds
        if "parameters" in tags or "injected-parameters" in tags:
            stages["kernel start"] += seconds
            continue
        stages[classify(source, first)] += seconds
        first = False
    meta = nb.get("metadata", {})
    wall = (meta.get("medadv") or {}).get("wall_seconds") or (meta.get("papermill") or {}).get("duration")
    if wall:
        stages["kernel start"] += max(0.0, float(wall) - cells_total)
    return stages


def profile_folder(folder: Path) -> dict[str, dict[str, float]]:
    """``{run: {stage: seconds}}`` for every executed notebook in ``folder`` (failed runs left out)."""
    out = {}
    for path in sorted(Path(folder).glob("*.ipynb")):
        if path.name.endswith(".failed.ipynb"):
            continue
        out[path.stem] = profile_notebook(json.loads(path.read_text()))
    return out


def report(runs: dict[str, dict[str, float]], extra: dict[str, float] | None = None) -> list[str]:
    """The table and the totals (``extra``: stages outside the runs, e.g. the book build)."""
    extra = extra or {}
    width = max([len(r) for r in runs] + [8])
    cols = [s for s in ORDER if any(r[s] for r in runs.values())]
    col = {c: max(len(c), 12) for c in cols}
    head = f"{'run':<{width}} " + " ".join(f"{c:>{col[c]}}" for c in cols) + f" {'total':>8}"
    lines = [head]
    for run, stages in runs.items():
        lines.append(f"{run:<{width}} " + " ".join(f"{stages[c]:{col[c]}.1f}" for c in cols)
                     + f" {sum(stages.values()):8.1f}")
    totals = {s: sum(r[s] for r in runs.values()) for s in ORDER}
    totals.update(extra)
    grand = sum(totals.values()) or 1.0
    lines.append("")
    lines += [f"{stage:<18} {seconds:8.1f} s  {100 * seconds / grand:5.1f} %"
              for stage, seconds in totals.items() if seconds]
    lines += [f"stage_{_key(stage)}_s={seconds:.1f}" for stage, seconds in totals.items()]
    lines.append(f"profile_total_s={sum(totals.values()):.1f}")
    return lines


def _build(folder: Path) -> float:
    """Seconds of ``jupyter-book build`` on a copy of the book's sources with these notebooks."""
    from medadv_lib.book.build import jupyter_book_command, write_scoreboard, write_status_page
    from medadv_lib.specs import REPO_ROOT

    with tempfile.TemporaryDirectory(prefix="medadv-profile-build-") as tmp:
        root = Path(tmp) / "book-root"
        shutil.copytree(REPO_ROOT, root, ignore=shutil.ignore_patterns(
            ".git", ".venv", "_build", "runs", ".cache", "tests", "benchmarks", "notebooks"))
        target = root / "book" / "notebooks"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(folder, target)
        write_status_page(target, root / "book" / "status.md")
        write_scoreboard(target, root / "book" / "scoreboard.md", root / "book" / "claims-summary.md")
        start = time.perf_counter()
        subprocess.run(jupyter_book_command(root), cwd=root, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", default=None, metavar="DIR",
                        help="profile the executed notebooks in DIR; run nothing")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--data-dir", default=os.environ.get("MEDADV_DATA_DIR"))
    parser.add_argument("--names", nargs="*", help="only these chapters")
    parser.add_argument("--jobs", type=int, default=None, help="runs side by side (default: the book's)")
    parser.add_argument("--build", action="store_true", help="also time jupyter-book build")
    parser.add_argument("--json", default=None, help="write the numbers to this file")
    args = parser.parse_args(argv)

    extra, wall = {}, None
    if args.source:
        folder = Path(args.source)
        if not folder.is_dir():
            parser.error(f"no folder {folder}")
        runs = profile_folder(folder)
        if not runs:
            parser.error(f"no executed notebook in {folder}")
        if args.build:
            extra["book build"] = _build(folder)
    else:
        from medadv_lib.book.build import execute_all
        from medadv_lib.specs import PRESETS

        if args.preset not in PRESETS:
            parser.error(f"unknown preset {args.preset!r}; known: {', '.join(PRESETS)}")
        data_dir = Path(args.data_dir) if args.data_dir else None
        if data_dir is not None and not data_dir.is_dir():
            parser.error(f"data folder not found: {data_dir}")
        with tempfile.TemporaryDirectory(prefix="medadv-profile-") as tmp:
            os.environ["MEDADV_CACHE"] = str(Path(tmp) / "cache")      # empty; the kernels inherit it
            out = Path(tmp) / "out"
            start = time.perf_counter()
            failures = execute_all(args.preset, args.names, out_dir=out, progress=False,
                                   data_dir=data_dir, jobs=args.jobs)
            wall = time.perf_counter() - start
            if failures:
                print("\n".join(failures), file=sys.stderr)
                return 1
            runs = profile_folder(out)
            if args.build:
                extra["book build"] = _build(out)
    lines = report(runs, extra)
    if wall is not None:
        lines.append(f"wall_s={wall + extra.get('book build', 0.0):.1f}")
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": runs, "extra": extra, "wall_s": wall}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

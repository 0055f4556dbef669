"""The book's time budget (issue 11): every run of ``medadv book`` timed from an empty model cache.

Runs exactly what the book executes (:func:`medadv_lib.book.book_runs`: each chapter on the
synthetic default, then on every real dataset found under ``--data-dir``, the robustness matrix
last), one after another, each in its own kernel as ``medadv book`` does, with one empty model cache
for the whole build (so every chapter trains its models, and the matrix pages find them in the
cache, as in a first ``medadv book``). The executed notebooks go to a temporary folder: the book's
own pages are not touched.

Prints one line per run (seconds, and ``over`` when above the per-run budget), the totals, and
last lines ``book_seconds=<total>`` and ``runs_over_budget=<count>``. The budget is issue 11's:
about 5 minutes a run and 35 minutes for the whole book with its real runs, on 2 CPU cores.
Nothing is asserted: the numbers are for the README and the issue.

``--repeats N`` builds it N times, each from its own empty cache, and reports every run's median
with its spread (min-max); the default is one build, because one build of the default book with
the real runs is an hour on 2 CPU cores (this is a budget measurement, not a comparison: the
comparisons are the other benchmarks, which repeat every case at least 5 times).

Usage: ``python benchmarks/book_time.py [--preset default] [--data-dir ../shared/data]
[--names uap-covidnet smia] [--repeats 1] [--dry-run]`` (``make bench-book``: the default book with
``../shared/data``; about an hour on 2 CPU cores).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

#: Issue 11's budget on 2 CPU cores, from an empty model cache.
RUN_BUDGET_S = 300
BOOK_BUDGET_S = 35 * 60


def label(name: str, overrides: dict) -> str:
    return name + (f" on {overrides['dataset']}" if overrides.get("dataset") else "")


def summarize(seconds: dict[str, float], run_budget: float = RUN_BUDGET_S,
              book_budget: float = BOOK_BUDGET_S) -> list[str]:
    """The report's lines for ``{run label: seconds}`` (in the book's order)."""
    width = max(len(k) for k in seconds)
    lines = [f"{run:<{width}}  {s:7.0f} s{'  over' if s > run_budget else ''}" for run, s in seconds.items()]
    synthetic = sum(s for run, s in seconds.items() if " on " not in run)
    total = sum(seconds.values())
    over = [run for run, s in seconds.items() if s > run_budget]
    lines += [f"synthetic runs: {synthetic:.0f} s; real runs: {total - synthetic:.0f} s; "
              f"whole book: {total:.0f} s = {total / 60:.1f} min (budget {book_budget / 60:.0f} min, "
              f"ratio {total / book_budget:.2f})",
              f"runs over {run_budget:.0f} s: {', '.join(over) if over else 'none'}",
              f"book_seconds={total:.0f}", f"runs_over_budget={len(over)}"]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--data-dir", default=os.environ.get("MEDADV_DATA_DIR"),
                        help="a folder laid out like ../shared/data (default: $MEDADV_DATA_DIR; none: synthetic only)")
    parser.add_argument("--names", nargs="*", help="only these chapters (default: every chapter)")
    parser.add_argument("--dry-run", action="store_true", help="list the runs, run nothing")
    parser.add_argument("--repeats", type=int, default=1, help="whole builds, each from an empty cache")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    from medadv_lib.book.build import book_runs
    from medadv_lib.specs import PRESETS

    if args.preset not in PRESETS:
        parser.error(f"unknown preset {args.preset!r}; known: {', '.join(PRESETS)}")
    data_dir = Path(args.data_dir) if args.data_dir else None
    if data_dir is not None and not data_dir.is_dir():
        parser.error(f"data folder not found: {data_dir}")
    runs = book_runs(data_dir, args.names)
    if args.dry_run:
        print("\n".join(label(name, overrides) for name, overrides in runs))
        return 0

    from medadv_lib.running.runner import run_notebook

    samples: dict[str, list[float]] = {label(n, o): [] for n, o in runs}
    for repeat in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="medadv-book-time-") as tmp:
            os.environ["MEDADV_CACHE"] = str(Path(tmp) / "cache")        # empty: the kernels inherit it
            for name, overrides in runs:
                start = time.perf_counter()
                run_notebook(name, args.preset, overrides, out_dir=Path(tmp) / "out", progress=False)
                samples[label(name, overrides)].append(time.perf_counter() - start)
                print(f"{label(name, overrides)}: {samples[label(name, overrides)][-1]:.0f} s"
                      + (f" (build {repeat + 1} of {args.repeats})" if args.repeats > 1 else ""), flush=True)
    seconds = {run: statistics.median(s) for run, s in samples.items()}
    print(f"\npreset {args.preset}, {os.cpu_count()} CPU cores, one empty model cache for each build"
          + (f", median of {args.repeats} builds:" if args.repeats > 1 else ":"))
    if args.repeats > 1:
        for run, s in samples.items():
            print(f"  {run}: {statistics.median(s):.0f} s ({min(s):.0f}-{max(s):.0f}, n={len(s)})")
    print("\n".join(summarize(seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

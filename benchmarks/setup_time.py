"""``make setup`` from a fresh clone, stage by stage (issue 31): what a newcomer waits for.

Clones the repository (its committed HEAD) into ``--dest`` (default ``../setup-bench``, beside the
project, so that ``../shared`` is there as for every clone), then runs the Makefile's stages of
``make setup`` one after another in the clone: ``env`` (the install), ``browser`` and ``book``
(every run of the default book, its replication, jupyter-book and the browser check). The clone
starts with an empty model cache (``.cache/medadv`` under it), as a newcomer's does.

Per stage: wall seconds, the CPU seconds of everything it ran (``getrusage`` of the children) and
how busy the cores were (CPU time over wall time times cores). From the book's own output: when the
first readable book appeared (``the book so far``), each run's seconds (``== [k/N] NAME: ok in S s``)
and the jupyter-book build. Last lines: ``setup_seconds=<total>`` and ``busy=<share>``. Nothing is
asserted: the numbers are for the README, which quotes them with their date. Measure on an
otherwise quiet machine (a second process sharing the cores lengthens every stage).

Usage: ``python benchmarks/setup_time.py [--dest DIR] [--keep] [--dry-run]`` (about 35-70 minutes
on 2 CPU cores; the clone and its ~5 GB environment are deleted afterwards unless ``--keep``).
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STAGES = ("env", "browser", "book")
RUN_LINE = re.compile(r"== \[(\d+)/(\d+)\] (\S+): (\w+)(?: in (\d+) s)?")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_stage(stage: str, clone: Path, log) -> dict:
    """One ``make STAGE`` in the clone; its output goes to ``log`` and is scanned for the book's lines."""
    cpu0, t0 = children_cpu(), time.perf_counter()
    first_book, runs, jb = None, [], None
    proc = subprocess.Popen(["make", "--no-print-directory", stage], cwd=clone, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            env={k: v for k, v in os.environ.items() if k not in ("MEDADV_CACHE", "CI")})
    for line in proc.stdout:
        log.write(line)
        if "the book so far" in line and first_book is None:
            first_book = time.perf_counter() - t0
        match = RUN_LINE.search(line)
        if match:
            runs.append((match.group(3), match.group(4), int(match.group(5) or 0)))
        if line.startswith("== jupyter-book build:"):
            jb = line.split(":", 1)[1].strip()
    proc.wait()
    wall, cpu = time.perf_counter() - t0, children_cpu() - cpu0
    return {"stage": stage, "rc": proc.returncode, "wall": wall, "cpu": cpu,
            "busy": cpu / (wall * (os.cpu_count() or 1)) if wall else 0.0,
            "first_book": first_book, "runs": runs, "jupyter_book": jb}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", default=str(REPO.parent / "setup-bench"), help="where the fresh clone goes")
    parser.add_argument("--keep", action="store_true", help="keep the clone afterwards")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    args = parser.parse_args(argv)
    dest = Path(args.dest).resolve()
    print(f"clone {REPO} -> {dest}; stages {', '.join(STAGES)} on {os.cpu_count()} cores")
    if args.dry_run:
        return 0
    if dest.exists():
        sys.exit(f"{dest} exists: remove it or give --dest")
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(dest)], check=True)
    rows, total0 = [], time.perf_counter()
    try:
        with open(dest.parent / f"{dest.name}.log", "w") as log:
            for stage in STAGES:
                row = run_stage(stage, dest, log)
                rows.append(row)
                print(f"{stage:8s} {row['wall']:8.0f} s wall {row['cpu']:8.0f} s CPU  busy {100 * row['busy']:5.1f} %"
                      + (f"  first readable book after {row['first_book']:.0f} s" if row["first_book"] else "")
                      + ("" if row["rc"] == 0 else f"  FAILED (exit {row['rc']})"), flush=True)
                if row["rc"] != 0:
                    break
    finally:
        if not args.keep:
            shutil.rmtree(dest, ignore_errors=True)
    total = time.perf_counter() - total0
    book = next((r for r in rows if r["stage"] == "book"), None)
    if book:
        for name, status, seconds in book["runs"]:
            print(f"  run {name:40s} {status:7s} {seconds:6d} s")
        print(f"  jupyter-book (last build): {book['jupyter_book']}")
    cpu = sum(r["cpu"] for r in rows)
    print(f"setup_seconds={total:.0f}")
    print(f"busy={cpu / (total * (os.cpu_count() or 1)):.2f}")
    return 0 if rows and all(r["rc"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

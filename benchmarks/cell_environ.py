"""What Dask's ``MALLOC_TRIM_THRESHOLD_`` cost every run of the book and of ``medadv sweep`` (issue 31).

Dask's nanny starts each worker with ``distributed.nanny.pre-spawn-environ``, which sets
``MALLOC_TRIM_THRESHOLD_=65536``, and leaves it in the environment of the process that started the
``LocalCluster``. Every cell's kernel inherited it until 2026-12-07: glibc then hands freed memory
back to the system at once, and each tensor a training step allocates comes back through fresh
page faults. Since then a cell runs with the value of the command that submitted it
(:func:`medadv_lib.running.engine.cell_task`), so setting the variable in that command's
environment reproduces the old behaviour exactly.

Each repeat runs the same sweep twice, interleaved, each from its own empty model cache: ``as-was``
(the submitting command has ``MALLOC_TRIM_THRESHOLD_=65536``, what every cell got before) and
``as-is`` (unset: glibc's default). A sweep is two cells of ``--chapter`` at ``--preset``, seeds 5
and 6, side by side on the local cluster at one torch thread each, as ``medadv book`` runs them on
2 cores. Prints each case's median wall seconds with its spread and last ``ratio=`` (as-was over
as-is, the median of the per-repeat ratios). The notebooks' outputs are the same in both cases
(the variable moves no number): ``--check`` compares the two sweeps' notebooks of the first repeat.

Usage: ``python benchmarks/cell_environ.py [--chapter backdoor] [--preset smoke] [--repeats 5]
[--check]`` (about 2 minutes a repeat on 2 CPU cores for the backdoor smoke preset).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import MIN_REPEATS, fmt_spread, median_spread  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
#: What Dask's nanny writes into a worker's environment (``distributed.nanny.pre-spawn-environ``).
NANNY_TRIM = "65536"


def sweep_seconds(chapter: str, preset: str, trim: str | None, out: Path) -> float:
    """Wall seconds of one ``medadv sweep`` of two cells from an empty cache, with the submitting
    command's ``MALLOC_TRIM_THRESHOLD_`` set to ``trim`` (None: unset)."""
    env = dict(os.environ, MEDADV_CACHE=str(out / "cache"))
    env.pop("MALLOC_TRIM_THRESHOLD_", None)
    if trim is not None:
        env["MALLOC_TRIM_THRESHOLD_"] = trim
    command = [sys.executable, "-m", "medadv_lib.cli", "sweep", chapter, "--preset", preset,
               "--grid", "seed=[5,6]", "--out", str(out / "sweep")]
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def outputs(folder: Path) -> list[str]:
    """The text outputs of every code cell of every notebook under ``folder`` (sorted by path)."""
    texts = []
    for path in sorted(folder.glob("*/*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            for out in cell.get("outputs", []):
                texts.append("".join(out.get("text", "")) or json.dumps(out.get("data", {}).get("text/plain", "")))
    return texts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chapter", default="backdoor")
    ap.add_argument("--preset", default="smoke")
    ap.add_argument("--repeats", type=int, default=MIN_REPEATS)
    ap.add_argument("--check", action="store_true", help="compare the two cases' notebook outputs (repeat 1)")
    args = ap.parse_args(argv)
    cases = {"as-was": NANNY_TRIM, "as-is": None}
    seconds: dict[str, list[float]] = {case: [] for case in cases}
    with tempfile.TemporaryDirectory(prefix="medadv-cell-environ-", dir=REPO.parent) as tmp:
        for repeat in range(args.repeats):
            for case, trim in cases.items():      # interleaved: a drift of the machine hits both
                out = Path(tmp) / f"{case}-{repeat}"
                seconds[case].append(sweep_seconds(args.chapter, args.preset, trim, out))
                print(f"repeat {repeat + 1} {case}: {seconds[case][-1]:.1f} s", flush=True)
        if args.check:
            same = outputs(Path(tmp) / "as-was-0" / "sweep") == outputs(Path(tmp) / "as-is-0" / "sweep")
            print(f"outputs identical: {same}")
    for case in cases:
        print(f"{case}: {fmt_spread(seconds[case], 1, ' s')}")
    ratios = [a / b for a, b in zip(seconds["as-was"], seconds["as-is"])]
    print(f"ratio per repeat: {fmt_spread(ratios, 2)}")
    print(f"ratio={median_spread(ratios)[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

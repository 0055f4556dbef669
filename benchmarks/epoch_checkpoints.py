"""What keeping every epoch's checkpoint cost the chapters that read none but the last (issue 31).

The trainer checkpoints every epoch so that a crash resumes where it stopped and so that the
backdoor chapter can read any epoch (Table 1 and Fig. 3 are maxima and minima over epochs). The
other chapters read only the final weights. With ``keep_epochs=False`` (ten-attacks, uap-covidnet,
smia since 2026-12-07) the resumable checkpoint is written at most every
:data:`medadv_lib.training.RESUME_SECONDS` and replaces the one before; none is left once
``final.pt`` is written. The weights are the same (the test suite checks it).

One run: Inception-ResNet-v2 (reduced, ten-attacks' default: 75 px, 320 training images, batch
32, Adam) trained ``--epochs`` epochs from an empty cache, ``keep_epochs=True`` (as-was) and
``False`` (as-is) interleaved ``--repeats`` times. Prints each case's median wall seconds with its
spread and the bytes left in the cache, and last ``ratio=`` (as-was over as-is, the median of the
per-repeat ratios). Usage: ``python benchmarks/epoch_checkpoints.py [--epochs 16] [--repeats 5]``
(about 1 minute per training at 16 epochs on one core).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import MIN_REPEATS, fmt_spread  # noqa: E402

from medadv_lib.data.datasets import ImageDataset  # noqa: E402
from medadv_lib.training import TrainConfig, train_model  # noqa: E402

KWARGS = {"num_classes": 1, "in_chans": 1, "pooling": "max", "depth": "reduced"}


def training(data: ImageDataset, epochs: int, keep: bool) -> tuple[float, int]:
    """Wall seconds of one training from an empty cache, and the bytes it left there."""
    scratch = Path(__file__).resolve().parents[1] / ".cache"     # the disk the model cache is on, ignored by git
    scratch.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch) as cache:
        os.environ["MEDADV_CACHE"] = cache
        start = time.perf_counter()
        train_model("inception-resnet-v2", KWARGS, data, TrainConfig(epochs=epochs, batch_size=32, lr=1e-3,
                                                                     loss="bce", class_weighted=False, seed=0),
                    device="cpu", progress=False, keep_epochs=keep)
        seconds = time.perf_counter() - start
        left = sum(p.stat().st_size for p in Path(cache).rglob("*") if p.is_file())
    return seconds, left


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--images", type=int, default=320)
    parser.add_argument("--repeats", type=int, default=MIN_REPEATS)
    args = parser.parse_args()
    if args.repeats < MIN_REPEATS:
        parser.error(f"--repeats must be at least {MIN_REPEATS}")
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    data = ImageDataset(torch.randint(0, 256, (args.images, 1, 75, 75), dtype=torch.uint8, generator=gen),
                        torch.randint(0, 2, (args.images,), generator=gen), ["negative", "positive"],
                        "benchmark: uniform random images")
    times = {"as-was": [], "as-is": []}
    left = {}
    for _ in range(args.repeats):
        for case, keep in (("as-was", True), ("as-is", False)):
            seconds, left[case] = training(data, args.epochs, keep)
            times[case].append(seconds)
    for case, values in times.items():
        print(f"{case:7s} {fmt_spread(values, 1, ' s')}, {left[case] / 1e6:,.0f} MB left in the cache")
    ratio = statistics.median(a / b for a, b in zip(times["as-was"], times["as-is"]))
    print(f"ratio={ratio:.3f}")


if __name__ == "__main__":
    main()

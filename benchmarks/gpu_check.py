"""``make gpu-check``: the collection on one CUDA GPU (H100/H200 class) in about 10 minutes.

* Each chapter at the **paper preset's image size and model width** on a reduced image count
  (:data:`REDUCED`: a few hundred training images, one or two epochs, fewer attacked images), run
  as ``medadv run`` runs it (papermill, its own kernel, ``device=cuda``), from an empty model cache:
  wall time and peak GPU memory per run. Peak memory is the device's used memory
  (``torch.cuda.mem_get_info``, sampled every 0.2 s while the run's kernel works) above what was
  used before the run, so it includes the kernel's CUDA context (about 0.5 GB).
  The robustness matrix is left out: at the paper preset it trains every chapter's full-size
  models (its parameters are the chapters'), which is a long GPU job, not a check.
* The **paper-preset UAP** (13,569 images at 224 px, 15 passes, COVID-Net Small at width 1, the
  batched mode at batch 64): one pass over a slice (``--uap-slice`` images) timed after a warm-up,
  then extrapolated: ``seconds per image-pass x 13,569 x 15``. The model is untrained, so every
  image not yet fooled gets its FGSM step: an upper bound on a trained model's pass.

Prints one line per run (seconds, peak GPU memory, ``over`` when the plan's budget share is
exceeded), the UAP extrapolation, and last lines ``gpu_check_seconds=<total>`` and
``uap_paper_extrapolated_s=<seconds>``. ``--json PATH`` writes them too.

Without a CUDA device it stops at once with exit status 2 and says so. ``--dry-run`` prints the plan
(every run's parameters, checked as ``medadv run`` would check them) without running anything, on
any machine (``--device cpu --dry-run`` is how the tests check it). Usage:
``python benchmarks/gpu_check.py [--device cuda] [--dry-run] [--only smia ...] [--uap-slice 512]
[--json PATH]``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

#: Total budget (issue 22: one command within 10 minutes on one H100/H200).
BUDGET_S = 600
#: The paper preset of each chapter with fewer images and epochs: (chapter, overrides, budget share s).
REDUCED = [
    ("uap-covidnet", {"n_train": 512, "n_test": 128, "uap_images": 256, "epochs": 2, "max_passes": 3,
                      "retrain_rounds": 1, "retrain_uaps": 1, "retrain_epochs": 1}, 150),
    ("ten-attacks", {"n_train": 256, "n_test": 64, "n_attack": 16, "epochs": 2}, 150),
    ("smia", {"n_train_cls": 256, "n_test_cls": 64, "cls_epochs": 2, "n_train_seg": 128, "n_test_seg": 32,
              "seg_epochs": 2, "n_attack": 32}, 90),
    ("backdoor", {"n_train": 512, "n_test": 128, "epochs": 2, "n_seeds": 1, "gradcam_images": 8}, 120),
]
#: The paper preset's UAP (the uap-covidnet chapter): images, size, passes, model width, batch.
UAP_PAPER = {"images": 13569, "image_size": 224, "passes": 15, "width": 1.0, "batch": 64}


class NoCuda(SystemExit):
    pass


def plan(only: list[str] | None = None, device: str = "cuda") -> list[dict]:
    """The runs, each with its parameters resolved and checked (``ParameterError`` on a bad one)."""
    from medadv_lib.papers import get_paper
    from medadv_lib.specs import resolve_parameters

    runs = []
    for name, overrides, budget in REDUCED:
        if only and name not in only:
            continue
        params = dict(overrides, device=device)
        resolved = resolve_parameters(get_paper(name), "paper", params)
        runs.append({"name": name, "overrides": params, "budget_s": budget,
                     "image_size": {k: v for k, v in resolved.items() if "image_size" in k},
                     "width": {k: v for k, v in resolved.items() if "width" in k or k in ("model_name", "cls_model")}})
    return runs


def uap_extrapolation(slice_images: int, slice_seconds: float, paper: dict = UAP_PAPER) -> float:
    """Seconds of the paper-preset UAP from one timed pass over ``slice_images`` images."""
    if slice_images <= 0 or slice_seconds < 0:
        raise ValueError("the slice needs images and a non-negative time")
    return slice_seconds / slice_images * paper["images"] * paper["passes"]


def report(results: list[dict], uap: dict | None) -> list[str]:
    """Lines of the report: ``results`` are dicts with name, seconds, peak_gb, budget_s, ok."""
    lines = []
    for r in results:
        flag = "" if r.get("ok", True) else "  FAILED"
        if r.get("ok", True) and r["seconds"] > r["budget_s"]:
            flag = "  over"
        lines.append(f"{r['name']:<14} {r['seconds']:7.1f} s  peak GPU memory {r['peak_gb']:6.2f} GB"
                     f"  (share {r['budget_s']} s){flag}")
    total = sum(r["seconds"] for r in results)
    if uap:
        total += uap["slice_seconds"]
        lines.append(f"paper UAP: one pass over {uap['slice_images']} images at {UAP_PAPER['image_size']} px in "
                     f"{uap['slice_seconds']:.1f} s (peak {uap['peak_gb']:.2f} GB) -> {UAP_PAPER['images']} images x "
                     f"{UAP_PAPER['passes']} passes: {uap['extrapolated_s']:.0f} s = {uap['extrapolated_s'] / 60:.1f} min")
    lines.append(f"gpu_check_seconds={total:.0f}")
    if uap:
        lines.append(f"uap_paper_extrapolated_s={uap['extrapolated_s']:.0f}")
    return lines


class PeakMemory(threading.Thread):
    """Samples the device's used memory (all processes) every ``interval`` s; ``peak_gb`` is the
    highest level above the level at start."""

    def __init__(self, device_index: int = 0, interval: float = 0.2):
        super().__init__(daemon=True)
        import torch

        self.torch, self.index, self.interval = torch, device_index, interval
        self.done = threading.Event()
        self.base = self._used()
        self.peak = self.base

    def _used(self) -> int:
        free, total = self.torch.cuda.mem_get_info(self.index)
        return total - free

    def run(self):
        while not self.done.wait(self.interval):
            self.peak = max(self.peak, self._used())

    def stop(self) -> float:
        self.done.set()
        self.join(2)
        self.peak = max(self.peak, self._used())
        return (self.peak - self.base) / 2**30


def _require_cuda(device: str) -> None:
    import torch

    if not device.startswith("cuda"):
        raise NoCuda(f"gpu-check runs on a CUDA device; --device {device} is only for --dry-run")
    if not torch.cuda.is_available():
        raise NoCuda("gpu-check needs a CUDA GPU, and this machine has none (torch.cuda.is_available() is "
                     f"False; torch {torch.__version__}, CUDA build {torch.version.cuda}). Run it on a GPU "
                     "machine, or use --dry-run to see the plan.")


def time_uap(slice_images: int, device: str) -> dict:
    import torch

    from medadv_lib.attacks.uap import uap_radius, universal_perturbation
    from medadv_lib.models import build_model
    from medadv_lib.utils import seed_everything

    seed_everything(0)
    size = UAP_PAPER["image_size"]
    model = build_model("covidnet-small", num_classes=3, in_channels=1, width=UAP_PAPER["width"],
                        image_size=size).to(device).eval()
    images = torch.rand(slice_images, 1, size, size)
    xi = uap_radius(images, 0.02, "inf")
    settings = dict(eps_step=0.001, delta=1e-6, mode="batched", batch_size=UAP_PAPER["batch"], device=device,
                    clip=(0.0, 1.0), progress=False)
    universal_perturbation(model, images[: UAP_PAPER["batch"]], xi, "inf", max_passes=1, **settings)  # warm-up
    torch.cuda.synchronize()
    memory = PeakMemory(torch.device(device).index or 0)
    memory.start()
    start = time.perf_counter()
    universal_perturbation(model, images, xi, "inf", max_passes=1, **settings)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return {"slice_images": slice_images, "slice_seconds": seconds, "peak_gb": memory.stop(),
            "extrapolated_s": uap_extrapolation(slice_images, seconds)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, run nothing (any machine)")
    parser.add_argument("--only", nargs="*", help="only these chapters")
    parser.add_argument("--uap-slice", type=int, default=512, help="images of the timed UAP pass")
    parser.add_argument("--no-uap", action="store_true", help="skip the paper-preset UAP timing")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    if not args.dry_run:
        try:
            _require_cuda(args.device)
        except NoCuda as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    runs = plan(args.only, args.device)
    if args.dry_run:
        for r in runs:
            print(f"{r['name']}: preset paper, {r['image_size']}, {r['width']}; overrides {r['overrides']}; "
                  f"share {r['budget_s']} s")
        if not args.no_uap:
            print(f"paper UAP: COVID-Net Small width {UAP_PAPER['width']}, {UAP_PAPER['image_size']} px, one pass "
                  f"over {args.uap_slice} images, extrapolated to {UAP_PAPER['images']} x {UAP_PAPER['passes']} passes")
        print(f"budget {BUDGET_S} s; planned shares {sum(r['budget_s'] for r in runs)} s")
        return 0

    from medadv_lib.running.runner import RunError, run_notebook

    results = []
    with tempfile.TemporaryDirectory(prefix="medadv-gpu-check-") as tmp:
        os.environ["MEDADV_CACHE"] = str(Path(tmp) / "cache")          # empty: every model trains
        for r in runs:
            memory = PeakMemory()
            memory.start()
            start = time.perf_counter()
            ok = True
            try:
                run_notebook(r["name"], "paper", r["overrides"], out_dir=Path(tmp) / "out", progress=False)
            except RunError as exc:
                print(f"FAILED: {exc}", file=sys.stderr)
                ok = False
            results.append({"name": r["name"], "seconds": time.perf_counter() - start, "peak_gb": memory.stop(),
                            "budget_s": r["budget_s"], "ok": ok})
            print(report(results[-1:], None)[0], flush=True)
    uap = None if args.no_uap else time_uap(args.uap_slice, args.device)
    lines = report(results, uap)
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": results, "uap": uap}, indent=1))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

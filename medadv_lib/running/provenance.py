"""Provenance of an executed notebook: parameters, preset, seed, device, versions, run time."""
from __future__ import annotations

import json
import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from ..utils import atomic_write

__all__ = ["package_versions", "git_commit", "record", "write_record", "read_records"]

PACKAGES = ("medadv", "torch", "torchvision", "timm", "foolbox", "numpy", "scipy", "scikit-learn",
            "papermill", "jupyter-book")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit(root: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
        commit = out.stdout.strip() or "unknown"
        return commit + ("+local changes" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def device_description(device_name: str) -> str:
    from ..utils import resolve_device  # torch import kept out of module import
    import torch

    dev = resolve_device(device_name)
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)})"
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def record(name: str, title: str, preset: str, parameters: dict, started: datetime, seconds: float,
           status: str, root: Path) -> dict:
    return {
        "notebook": name, "title": title, "preset": preset, "status": status,
        "seed": parameters.get("seed"), "device": device_description(parameters.get("device", "auto")),
        "dataset": parameters.get("dataset", "synthetic" if not parameters.get("data_root") else "real data"),
        "data": _data_description(parameters),
        "parameters": parameters, "started_utc": started.astimezone(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": round(seconds, 1), "versions": package_versions(), "git": git_commit(root),
        "command": " ".join(Path(a).name if i == 0 else a for i, a in enumerate(sys.argv)),
    }


def _data_description(parameters: dict) -> str:
    """Which data: the embedded default, or the dataset and its folder's name (never a path of the
    build machine: the book is read elsewhere)."""
    root = parameters.get("data_root")
    if not root:
        return "synthetic (embedded default)"
    dataset = parameters.get("dataset")
    folder = Path(str(root)).name
    return f"{dataset} ({folder}/)" if dataset else f"{folder}/"


def write_record(path: Path, rec: dict) -> None:
    with atomic_write(path, "w") as handle:
        json.dump(rec, handle, indent=1, default=str, allow_nan=False)  # strict JSON


def read_records(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(Path(folder).glob("*.provenance.json"))]

"""Small shared helpers: seeding, device resolution, atomic writes, and where the cache lives and how
its entries are keyed (the cache itself, with its locks and manifest, is :mod:`medadv_lib.cache`)."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any, Iterator, Mapping, MutableMapping

import numpy as np
import torch

__all__ = [
    "seed_everything",
    "resolve_device",
    "atomic_write",
    "file_mode",
    "cache_dir",
    "config_key",
    "stable_json",
    "set_environ",
]


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a torch generator seeded the same way.

    Deterministic algorithms are requested on CPU so that the same seed and parameters give the
    same numbers (DEVELOPERS.md: "Same seed and parameters on CPU give the same numbers").
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Map ``"auto"`` to CUDA when present, else CPU; validate explicit names early."""
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise TypeError(f"device must be a string such as 'auto', 'cpu' or 'cuda', got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {device!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was requested but CUDA is not available on this machine")
    return dev


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[Any]:
    """Write to a temporary file beside ``path`` and rename it into place only on success.

    A crash or an exception part-way never leaves a truncated file at ``path`` and never
    destroys the previous good copy. The file gets the mode a plain ``open`` would give it (the
    user's umask), not ``mkstemp``'s private 0600, so a book built by one user can be served.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def set_environ(values: Mapping[str, str | None], env: MutableMapping[str, str] | None = None) -> None:
    """Set each variable of ``values`` in ``env`` (default ``os.environ``), removing those whose
    value is ``None``: how a saved environment (``{name: os.environ.get(name)}``) is put back."""
    env = os.environ if env is None else env
    for name, value in values.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = str(value)


def file_mode() -> int:
    """The permission bits a new file gets from ``open``: 0o666 minus the process's umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def cache_dir() -> Path:
    """Root of the on-disk cache (trained checkpoints, generated data).

    ``$MEDADV_CACHE`` when set, else ``.cache/medadv`` under the current project root.
    """
    root = os.environ.get("MEDADV_CACHE")
    if root:
        path = Path(root)
    else:
        path = Path(__file__).resolve().parent.parent / ".cache" / "medadv"
    path.mkdir(parents=True, exist_ok=True)
    return path


def stable_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: a canonical text for hashing configurations."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def config_key(config: dict) -> str:
    """A short hash that changes whenever any entry of ``config`` changes."""
    return hashlib.sha256(stable_json(config).encode()).hexdigest()[:16]

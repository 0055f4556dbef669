"""A cache folder whose files are verified before use: nothing already computed is trusted blindly.

Every file written through :class:`VerifiedFolder` is written atomically and recorded, with the
SHA-256 of its bytes, in the folder's ``manifest.json``. Reading checks the hash first and then
decodes (``torch.load(..., weights_only=True)`` for tensors). A file that is missing from the
manifest, fails its hash, or fails to decode is named in one warning, moved aside into the folder's
``quarantine/`` (never deleted, so it can be inspected), and reported as absent, so that the caller
recomputes it (the trainer resumes from the last good epoch or retrains).

``torch.load`` alone would not notice: it does not check the CRCs of its zip archive, so flipped
bytes inside a tensor load silently as different weights.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

from .utils import atomic_write

__all__ = ["CacheWarning", "VerifiedFolder", "MANIFEST", "file_lock"]

MANIFEST = "manifest.json"
#: The lock file that serialises updates of the manifest across processes.
MANIFEST_LOCK = ".manifest.lock"


@contextlib.contextmanager
def file_lock(path: str | os.PathLike) -> Iterator[None]:
    """An exclusive advisory lock (``flock``) on ``path``, created if missing, held for the block.

    It serialises processes (parallel sweep cells, two ``medadv run`` at once) and threads alike:
    every entry opens the file anew, and two open files of one lock file exclude each other even
    within one process. The kernel releases the lock when its holder dies, so a killed run never
    leaves a stale lock behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)                 # closing the descriptor releases the lock


class CacheWarning(UserWarning):
    """A cache file failed its check and was moved aside; it will be recomputed."""


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class VerifiedFolder:
    """Files in ``folder`` with a manifest of their SHA-256 (see the module docstring)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    # ----------------------------------------------------------------------------- manifest
    def _manifest(self) -> dict[str, str]:
        path = self.folder / MANIFEST
        if not path.is_file():
            return {}
        try:
            data = json.loads(path.read_text())
            files = data["files"]
            if not isinstance(files, dict):
                raise TypeError("files is not a mapping")
            return files
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self._quarantine(MANIFEST, f"the manifest is unreadable ({exc})")
            return {}

    def _record(self, name: str, digest: str | None) -> None:
        # Read, change and replace the manifest under its lock: two writers at once (parallel
        # sweep cells sharing the cache) would otherwise each drop the other's new entry, and the
        # unrecorded file would then be quarantined as unverifiable.
        self.folder.mkdir(parents=True, exist_ok=True)
        with file_lock(self.folder / MANIFEST_LOCK):
            files = self._manifest()
            if digest is None:
                files.pop(name, None)
            else:
                files[name] = digest
            with atomic_write(self.folder / MANIFEST, "w") as handle:
                json.dump({"files": files}, handle, indent=1, sort_keys=True)

    def lock(self, purpose: str = "write") -> contextlib.AbstractContextManager:
        """An exclusive lock on this folder for ``purpose`` (the trainer holds ``train`` while it
        trains, so a second process with the same configuration waits and then loads the result)."""
        return file_lock(self.folder / f".{purpose}.lock")

    # ----------------------------------------------------------------------------- writing
    def write_bytes(self, name: str, data: bytes) -> Path:
        """Write ``data`` atomically as ``name`` and record its hash."""
        path = self.folder / name
        with atomic_write(path, "wb") as handle:
            handle.write(data)
        self._record(name, _digest(data))
        return path

    def write_torch(self, name: str, obj: Any) -> Path:
        import torch

        buffer = io.BytesIO()
        torch.save(obj, buffer)
        return self.write_bytes(name, buffer.getvalue())

    def write_json(self, name: str, obj: Any) -> Path:
        return self.write_bytes(name, json.dumps(obj, indent=1, default=str, allow_nan=False).encode())

    # ----------------------------------------------------------------------------- reading
    def exists(self, name: str) -> bool:
        return (self.folder / name).is_file()

    def read_bytes(self, name: str) -> bytes | None:
        """The verified bytes of ``name``; None when absent or when it failed its check (then it
        was moved aside with a warning)."""
        path = self.folder / name
        if not path.is_file():
            return None
        expected = self._manifest().get(name)
        try:
            data = path.read_bytes()
        except OSError as exc:
            self._quarantine(name, f"it cannot be read ({exc})")
            return None
        if expected is None:
            self._quarantine(name, "it is not recorded in the manifest, so it cannot be verified")
            return None
        if _digest(data) != expected:
            self._quarantine(name, "its content does not match the SHA-256 recorded when it was written")
            return None
        return data

    def read_torch(self, name: str) -> Any | None:
        """The tensors of ``name`` (``weights_only=True``) after the hash check; None if bad or absent."""
        import torch

        data = self.read_bytes(name)
        if data is None:
            return None
        try:
            return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for a damaged archive
            self._quarantine(name, f"torch.load failed ({type(exc).__name__})")
            return None

    def read_json(self, name: str) -> Any | None:
        data = self.read_bytes(name)
        if data is None:
            return None
        try:
            return json.loads(data)
        except ValueError as exc:
            self._quarantine(name, f"it is not valid JSON ({exc})")
            return None

    def _quarantine(self, name: str, reason: str) -> Path | None:
        """Move ``name`` aside into ``quarantine/`` and say so in one warning."""
        path = self.folder / name
        if not path.exists():
            return None
        target = self.folder / "quarantine" / f"{name}.{time.strftime('%Y%m%dT%H%M%S')}.{os.getpid()}"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        if name != MANIFEST:
            self._record(name, None)
        warnings.warn(f"cache file {path} failed its check: {reason}; moved aside to {target}, "
                      "it will be recomputed", CacheWarning, stacklevel=3)
        return target

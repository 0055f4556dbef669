"""A cache folder whose files are verified before use: nothing already computed is trusted blindly.

Every file written through :class:`VerifiedFolder` is written atomically and recorded, with the
SHA-256 of its bytes, in the folder's ``manifest.json``. Reading checks the hash first and then
decodes (``torch.load(..., weights_only=True)`` for tensors). A file that is missing from the
manifest, fails its hash, or fails to decode is named in one warning, moved aside into the folder's
``quarantine/`` (never deleted, so it can be inspected), and reported as absent, so that the caller
recomputes it (the trainer resumes from the last good epoch or retrains).

``torch.load`` alone would not notice: it does not check the CRCs of its zip archive, so flipped
bytes inside a tensor load silently as different weights.

Concurrent processes (the book's parallel runs, nbval under pytest-xdist, a sweep's workers) may
share one cache folder:

* a write (the file's atomic rename and its manifest entry) happens under the folder's manifest
  lock (``fcntl.flock`` on ``.manifest.lock``), so no update of the manifest is lost;
* a read that fails its check is checked again under that lock before anything is moved aside, so
  a reader never quarantines a file that a writer has renamed into place but not yet recorded;
* :meth:`VerifiedFolder.lock` is an exclusive lock for the *computation* of the folder's files
  (``.lock``): the trainer holds it while it trains, so a second process that wants the same
  checkpoint waits and then reads it instead of training it again.

The locks are advisory and POSIX-only (``fcntl``); without ``fcntl`` they do nothing.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

try:
    import fcntl
except ImportError:  # not POSIX: no locking
    fcntl = None

from .utils import atomic_write

__all__ = ["CacheWarning", "VerifiedFolder", "MANIFEST", "file_lock"]

MANIFEST = "manifest.json"
#: Lock files in the folder: the computation's (:meth:`VerifiedFolder.lock`) and the manifest's.
COMPUTE_LOCK, MANIFEST_LOCK = ".lock", ".manifest.lock"


@contextlib.contextmanager
def file_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created when missing) until the block ends; blocks
    while another process (or another open of the file) holds it. Not re-entrant: do not take the
    same lock again inside the block."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class CacheWarning(UserWarning):
    """A cache file failed its check and was moved aside; it will be recomputed."""


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class VerifiedFolder:
    """Files in ``folder`` with a manifest of their SHA-256 (see the module docstring)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def lock(self):
        """Exclusive lock for computing this folder's files (see the module docstring): hold it
        from the check that a file is missing until it is written, and other processes that do
        the same wait, then find the file."""
        return file_lock(self.folder / COMPUTE_LOCK)

    def _manifest_lock(self):
        return file_lock(self.folder / MANIFEST_LOCK)

    # ----------------------------------------------------------------------------- manifest
    def _manifest(self, repair: bool = True) -> dict[str, str] | None:
        """The recorded hashes. An unreadable manifest is moved aside (``repair``, under the
        manifest lock) and reads as empty; without ``repair`` it reads as None."""
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
            if not repair:
                return None
            self._quarantine(MANIFEST, f"the manifest is unreadable ({exc})")
            return {}

    def _record(self, name: str, digest: str | None) -> None:
        """Update the manifest (the caller holds the manifest lock)."""
        files = self._manifest()
        if digest is None:
            files.pop(name, None)
        else:
            files[name] = digest
        with atomic_write(self.folder / MANIFEST, "w") as handle:
            json.dump({"files": files}, handle, indent=1, sort_keys=True)

    # ----------------------------------------------------------------------------- writing
    def write_bytes(self, name: str, data: bytes) -> Path:
        """Write ``data`` atomically as ``name`` and record its hash."""
        path = self.folder / name
        with self._manifest_lock():
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

    def remove(self, name: str) -> None:
        """Delete ``name`` and its record (nothing happens when it is absent)."""
        with self._manifest_lock():
            (self.folder / name).unlink(missing_ok=True)
            self._record(name, None)

    # ----------------------------------------------------------------------------- reading
    def exists(self, name: str) -> bool:
        return (self.folder / name).is_file()

    def read_bytes(self, name: str) -> bytes | None:
        """The verified bytes of ``name``; None when absent or when it failed its check (then it
        was moved aside with a warning)."""
        path = self.folder / name
        if not path.is_file():
            return None
        data, _ = self._checked(name, repair=False)  # no lock: the common case, a good file
        if data is not None:
            return data
        with self._manifest_lock():  # a writer may be between its rename and its record: ask again
            data, problem = self._checked(name, repair=True)
            if problem is not None:
                self._quarantine(name, problem)
        return data

    def _checked(self, name: str, repair: bool) -> tuple[bytes | None, str | None]:
        """``(bytes, None)`` for a file that passes its check; ``(None, why)`` otherwise
        (``(None, None)``: absent)."""
        path = self.folder / name
        if not path.is_file():
            return None, None
        files = self._manifest(repair=repair)
        if files is None:
            return None, "the manifest is unreadable"
        expected = files.get(name)
        try:
            data = path.read_bytes()
        except OSError as exc:
            return None, f"it cannot be read ({exc})"
        if expected is None:
            return None, "it is not recorded in the manifest, so it cannot be verified"
        if _digest(data) != expected:
            return None, "its content does not match the SHA-256 recorded when it was written"
        return data, None

    def read_torch(self, name: str) -> Any | None:
        """The tensors of ``name`` (``weights_only=True``) after the hash check; None if bad or absent."""
        import torch

        data = self.read_bytes(name)
        if data is None:
            return None
        try:
            return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for a damaged archive
            with self._manifest_lock():
                self._quarantine(name, f"torch.load failed ({type(exc).__name__})")
            return None

    def read_json(self, name: str) -> Any | None:
        data = self.read_bytes(name)
        if data is None:
            return None
        try:
            return json.loads(data)
        except ValueError as exc:
            with self._manifest_lock():
                self._quarantine(name, f"it is not valid JSON ({exc})")
            return None

    def _quarantine(self, name: str, reason: str) -> Path | None:
        """Move ``name`` aside into ``quarantine/`` and say so in one warning (the caller holds
        the manifest lock)."""
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

"""The Jupyter kernel behind one run: its process and raw output log (a kernel that failed to start
is told apart from a failing cell), a private working folder that a crashed run leaves to be cleaned
(:func:`clean_stale_workdirs`), and Ctrl-C that interrupts the kernel and keeps the last good run."""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

__all__ = ["KERNEL", "WORKDIR_PREFIX", "KernelProcess", "CtrlC", "workdir", "clean_stale_workdirs"]

KERNEL = "python3"
WORKDIR_PREFIX = "medadv-run-"
_OWNER = "owner.pid"
#: A work folder without its owner file is left alone this long: a run started at the same moment
#: (the book's parallel runs) creates the folder, then writes the file.
_OWNERLESS_GRACE_S = 60


class KernelProcess:
    """What the runner knows of the kernel it started: its process and its raw output log."""

    def __init__(self, work: Path):
        self.work = work
        self.log_path = work / "kernel.log"
        self.pid: int | None = None

    @property
    def socket_base(self) -> str:
        """The IPC sockets' path prefix, absolute and inside the run's private work folder.

        jupyter_client's default for IPC is the relative ``kernel-ipc`` (so ``kernel-ipc-1`` ...
        ``-5`` in papermill's ``cwd``, the output folder that the book's parallel runs share), and
        it picks the numbers by testing which files exist: two kernels started at the same moment
        both took ``kernel-ipc-1..5``, the second bind stole the first kernel's sockets, and the
        first run's client waited forever for its kernel's reply (the hang of the clean-clone proof
        of 2026-12-01: a kernel idle in ``epoll_wait``, its run never answered)."""
        return str(self.work / "kernel-ipc")

    def manager_class(self):
        """A jupyter_client kernel manager whose kernel listens on IPC sockets (no TCP, so no
        network, not even loopback) at :attr:`socket_base` and writes its raw stdout/stderr to
        ``log_path``."""
        from jupyter_client.manager import AsyncKernelManager

        kernel = self

        class IPCKernelManager(AsyncKernelManager):
            def __init__(self, **kwargs):
                kwargs.setdefault("transport", "ipc")
                kwargs.setdefault("ip", kernel.socket_base)
                super().__init__(**kwargs)

            async def _async_launch_kernel(self, kernel_cmd, **kw):
                log = open(kernel.log_path, "ab")
                kw["stdout"], kw["stderr"] = log, log
                try:
                    await super()._async_launch_kernel(kernel_cmd, **kw)
                finally:
                    log.close()
                kernel.pid = getattr(self.provisioner, "pid", None)

        return IPCKernelManager

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").strip().splitlines()[-lines:])
        except OSError:
            return ""


class CtrlC:
    """First Ctrl-C: interrupt the kernel (its own process group), so the running cell stops
    cleanly and the runner tidies up; a second Ctrl-C stops the runner at once."""

    def __init__(self, kernel: KernelProcess):
        self.kernel, self.count, self.previous = kernel, 0, None

    def __call__(self, signum, frame):
        self.count += 1
        if self.count == 1 and self.kernel.pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(os.getpgid(self.kernel.pid), signal.SIGINT)
                return
        raise KeyboardInterrupt

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


# --------------------------------------------------------------------------- work folders

def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_workdirs(root: Path | None = None) -> list[Path]:
    """Remove the work folders that runs killed outright (SIGKILL, power loss) left behind: those
    of this user whose owning process is gone. Returns what was removed."""
    root = Path(root or tempfile.gettempdir())
    removed = []
    for folder in root.glob(f"{WORKDIR_PREFIX}*"):
        try:
            if not folder.is_dir() or folder.stat().st_uid != os.getuid():
                continue
            owner = folder / _OWNER
            pid = int(owner.read_text()) if owner.is_file() else None
            if pid is None and time.time() - folder.stat().st_mtime < _OWNERLESS_GRACE_S:
                continue                      # a run started beside us has not written its owner yet
        except (OSError, ValueError):
            pid = None
        if pid is None or not _alive(pid):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


@contextlib.contextmanager
def workdir(name: str) -> Iterator[Path]:
    """A private work folder that records its owner and is removed however the run ends."""
    folder = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{name}-"))
    try:
        (folder / _OWNER).write_text(str(os.getpid()))
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)

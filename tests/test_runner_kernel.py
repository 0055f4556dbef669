"""The runner's kernels: each listens on IPC sockets inside its own run's work folder.

Regression test of the hang of the clean-clone proof of 2026-12-01 (``medadv book --jobs 2``): with
jupyter_client's default IPC prefix, the relative ``kernel-ipc``, two kernels started at the same
moment in the shared output folder both took ``kernel-ipc-1..5`` and one stole the other's sockets.
"""
from __future__ import annotations

import contextlib
import json
import os

from medadv_lib.running import kernel


def _connection(work, cwd):
    manager = kernel.KernelProcess(work).manager_class()(kernel_name="python3")
    with contextlib.chdir(cwd):               # papermill runs the client in the output folder
        manager.write_connection_file()
    info = json.loads(open(manager.connection_file).read())
    os.unlink(manager.connection_file)
    return info


def test_two_runs_in_one_output_folder_get_distinct_socket_paths(tmp_path):
    shared_out = tmp_path / "book-notebooks"
    shared_out.mkdir()
    works = [tmp_path / "run-a", tmp_path / "run-b"]
    for work in works:
        work.mkdir()
    # written before either kernel binds (the race): each picks the same numbers, 1..5
    a, b = (_connection(work, shared_out) for work in works)
    assert a["transport"] == b["transport"] == "ipc"
    for info, work in zip((a, b), works):
        assert os.path.isabs(info["ip"]) and info["ip"].startswith(str(work)), info["ip"]
    sockets = lambda info: {f"{info['ip']}-{info[k]}" for k in info if k.endswith("_port")}
    assert len(sockets(a)) == len(sockets(b)) == 5
    assert not sockets(a) & sockets(b)
    # the socket paths fit the kernel's limit for a unix socket path (107 bytes on Linux)
    assert max(len(p) for p in sockets(a) | sockets(b)) < 107

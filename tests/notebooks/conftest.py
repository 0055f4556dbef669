"""nbval's replay of the goldens (`make test-notebooks`), run side by side under pytest-xdist.

* Order: the synthetic chapters first (longest first), then the robustness matrix, which attacks
  their models (from the shared model cache once they are trained; a model still in training is
  waited for, never trained twice: :meth:`medadv_lib.cache.VerifiedFolder.lock`), then the
  real-data goldens, which fill the other core meanwhile. With ``-n N --dist loadfile
  --no-loadscope-reorder`` each notebook stays in one kernel and the workers take them in this order.
* nbval's kernels listen on IPC sockets, not TCP ports: two kernels started at once cannot pick the
  same port (papermill #239/#511, jupyter_client #487), the runner's own kernels do the same.
"""
import shutil
import tempfile
from pathlib import Path

import pytest

#: The goldens in the order they are handed out; a golden not named here comes after them.
ORDER = ["uap-covidnet", "ten-attacks", "backdoor", "smia", "robustness-matrix",
         "ten-attacks--kermany", "uap-covidnet--covidx", "backdoor--nih-cxr14",
         "smia--retinamnist", "smia--covid-ct-infection"]


def _rank(item) -> tuple[int, str]:
    path = Path(str(getattr(item, "fspath", "")))
    if path.suffix != ".ipynb":
        return -1, ""                         # anything else keeps its place, first
    stem = path.stem
    return (ORDER.index(stem) if stem in ORDER else len(ORDER)), stem


def pytest_collection_modifyitems(session, config, items):
    order = {id(item): k for k, item in enumerate(items)}
    items.sort(key=lambda item: (_rank(item), order[id(item)]))   # stable: cells keep their order


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    try:
        import nbval.kernel
        from jupyter_client.manager import KernelManager
    except ImportError:
        return

    if getattr(nbval.kernel.KernelManager, "_medadv_ipc", False):
        return

    class IPCKernelManager(KernelManager):
        _medadv_ipc = True

        def __init__(self, **kwargs):
            kwargs.setdefault("transport", "ipc")
            # an absolute socket path: nbval starts the kernel in the notebook's folder, and a
            # relative one ("kernel-ipc") would be bound there but looked for in pytest's folder
            self._ipc_dir = Path(tempfile.mkdtemp(prefix="nbval-ipc-"))
            kwargs.setdefault("ip", str(self._ipc_dir / "kernel"))
            super().__init__(**kwargs)

        async def _async_cleanup_resources(self, restart=False):
            await super()._async_cleanup_resources(restart=restart)
            if not restart:
                shutil.rmtree(self._ipc_dir, ignore_errors=True)

    nbval.kernel.KernelManager = IPCKernelManager

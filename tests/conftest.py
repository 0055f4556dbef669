import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: ``../shared`` beside the checkout; ``MEDADV_SHARED`` points elsewhere (a git worktree in another folder).
SHARED = Path(os.environ.get("MEDADV_SHARED") or REPO.parent / "shared")
COVIDX_SAMPLE = SHARED / "data" / "covidx-sample"
#: Set by .ci/run: CI always has ../shared beside the clone, so a missing folder there is a
#: failure, not a skip that would hide the real-data tests.
REQUIRE_SHARED = os.environ.get("MEDADV_REQUIRE_SHARED") == "1"


def shared_or_skip(relative: str) -> Path:
    """``../shared/<relative>``; skipped with a reason when absent (a failure under
    ``MEDADV_REQUIRE_SHARED=1``)."""
    path = SHARED / relative
    if not path.exists():
        message = f"{path} is not present (the shared real data and papers sit beside the checkout)"
        if REQUIRE_SHARED:
            pytest.fail(message + "; MEDADV_REQUIRE_SHARED=1 requires it")
        pytest.skip(message)
    return path


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Library tests never touch the project's checkpoint cache."""
    monkeypatch.setenv("MEDADV_CACHE", str(tmp_path_factory.getbasetemp() / "medadv-cache"))


@pytest.fixture
def covidx_sample():
    return shared_or_skip("data/covidx-sample")


# --------------------------------------------------------------------------------------------
# nbval's replay of the goldens (`make test-notebooks`), side by side under pytest-xdist. (Here and
# not in tests/notebooks/conftest.py: the test modules import this file as `conftest`, and a
# second conftest module would take that name.)
#
# * Order (derived from the chapters' specs, :func:`golden_order`): the synthetic chapters first, in
#   the book's order (``SPEC.order``), then the chapters that run after them (``SPEC.runs_after``:
#   the robustness matrix, which attacks their models from the shared model cache once they are
#   trained; a model still in training is waited for, never trained twice:
#   :meth:`medadv_lib.cache.VerifiedFolder.lock`), then the real-data goldens (chapter by chapter,
#   in the order of each spec's ``datasets``), which fill the other core meanwhile. With ``-n N
#   --dist loadfile --no-loadscope-reorder`` each notebook stays in one kernel and the workers take
#   them in this order.
# * nbval's kernels listen on IPC sockets, not TCP ports: two kernels started at once cannot pick the
#   same port (papermill #239/#511, jupyter_client #487), the runner's own kernels do the same.

GOLDENS = REPO / "tests" / "notebooks"


def golden_order(specs: dict, goldens: Path = GOLDENS) -> list[str]:
    """The goldens' names in the order they are handed out: every chapter's synthetic golden in the
    book's order with the ``runs_after`` chapters after the others, then the real-data goldens
    (``NAME--DATASET``, those in ``goldens``) in the same chapter order and each spec's
    ``datasets`` order."""
    names = sorted(specs, key=lambda name: specs[name].runs_after)     # stable: the book's order kept
    real = [f"{name}--{dataset}" for name in names for dataset in specs[name].datasets
            if dataset != "synthetic" and (goldens / f"{name}--{dataset}.ipynb").is_file()]
    return names + real


def _chapters() -> dict:
    from medadv_lib.papers import papers

    return papers()


#: The goldens in the order they are handed out; a golden not named here comes after them.
GOLDEN_ORDER = golden_order(_chapters())


def _rank(item) -> tuple[int, str]:
    path = Path(str(getattr(item, "fspath", "")))
    if path.suffix != ".ipynb":
        return -1, ""                         # anything else keeps its place, first
    stem = path.stem
    return (GOLDEN_ORDER.index(stem) if stem in GOLDEN_ORDER else len(GOLDEN_ORDER)), stem


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

import os
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

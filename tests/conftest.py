import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
COVIDX_SAMPLE = REPO.parent / "shared" / "data" / "covidx-sample"


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Library tests never touch the project's checkpoint cache."""
    monkeypatch.setenv("MEDADV_CACHE", str(tmp_path_factory.getbasetemp() / "medadv-cache"))


@pytest.fixture
def covidx_sample():
    if not COVIDX_SAMPLE.is_dir():
        pytest.skip(f"real COVIDx sample not present at {COVIDX_SAMPLE}")
    return COVIDX_SAMPLE

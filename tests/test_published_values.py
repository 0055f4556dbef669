"""The project's copy of every published number agrees, cell for cell, with shared/papers."""
import copy
import importlib

import pytest
import yaml

from conftest import shared_or_skip

from medadv_lib.papers import papers

#: The chapters that reproduce a paper (``SPEC.from_paper``), by module name.
PAPERS = [name.replace("-", "_") for name, spec in papers().items() if spec.from_paper]


@pytest.fixture(scope="module")
def transcribed():
    return yaml.safe_load(shared_or_skip("papers/published-values.yaml").read_text())


def assert_same_cells(ours, reference, where):
    """Same keys in the same order, same list lengths, same values and types, recursively."""
    assert type(ours) is type(reference), f"{where}: {type(ours).__name__} vs {type(reference).__name__}"
    if isinstance(reference, dict):
        assert list(ours) == list(reference), f"{where}: keys {list(ours)} vs {list(reference)}"
        for key in reference:
            assert_same_cells(ours[key], reference[key], f"{where}.{key}")
    elif isinstance(reference, list):
        assert len(ours) == len(reference), f"{where}: {len(ours)} vs {len(reference)} cells"
        for i, (a, b) in enumerate(zip(ours, reference)):
            assert_same_cells(a, b, f"{where}[{i}]")
    else:
        assert ours == reference, f"{where}: ours {ours!r}, published {reference!r}"


@pytest.mark.parametrize("paper", PAPERS)
def test_project_copy_agrees_with_the_transcription(paper, transcribed):
    module = importlib.import_module(f"medadv_lib.papers.{paper}.published")
    assert module.KEY in transcribed, f"{module.KEY} missing from published-values.yaml"
    assert_same_cells(module.PUBLISHED, transcribed[module.KEY], module.KEY)


def test_a_changed_cell_is_caught(transcribed):
    from medadv_lib.papers.uap_covidnet.published import KEY, PUBLISHED

    changed = copy.deepcopy(PUBLISHED)
    changed["table1_nontargeted_Rf_percent"]["2"]["1"]["Small"]["test"][0] = 58.1
    with pytest.raises(AssertionError, match=r"test\[0\]: ours 58.1, published 58.0"):
        assert_same_cells(changed, transcribed[KEY], KEY)
    changed = copy.deepcopy(PUBLISHED)
    changed["retraining"]["nontargeted_zeta2_Rf_test_after_5_rounds_percent"] = "22.1"
    with pytest.raises(AssertionError, match="str vs float"):
        assert_same_cells(changed, transcribed[KEY], KEY)

"""One unit per budget from the parse on, and one declared type per record at the notebook/book
boundary (issue 32): the claims record, the sweep's cell entry and the matrix row."""
from __future__ import annotations

import json

import nbformat
import numpy as np
import pytest

from medadv_lib.specs import ParameterError
from medadv_lib.specs.budgets import budget_label, budgets_in_order, from_gray_levels, parse_budget, parse_budgets


def test_a_budget_is_parsed_once_onto_the_unit_scale_and_shown_in_gray_levels():
    assert parse_budget("2/255") == 2 / 255 and parse_budget(" 0.5 ") == 0.5 and parse_budget(3) == 3.0
    assert parse_budgets(["1/255", 0.01]) == [1 / 255, 0.01] and parse_budgets("8/255") == [8 / 255]
    assert from_gray_levels([0.5, 2, 8]) == [0.5 / 255, 2 / 255, 8 / 255] and from_gray_levels(16) == 16 / 255
    assert budget_label("Linf", 8 / 255) == "8/255" and budget_label("L2", 0.5) == "0.5"
    for bad in ("two/255", "1/0", "", "1//2"):
        with pytest.raises(ParameterError, match="is not a number such as 2/255"):
            parse_budget(bad)


def test_one_rule_for_a_list_of_budgets():
    assert budgets_in_order([0.01, 0.02]) and budgets_in_order([0.5, 2.0])
    assert not budgets_in_order([]) and not budgets_in_order([0.02, 0.01]) and not budgets_in_order([0.01, 0.01])
    assert not budgets_in_order([0.0, 0.1]) and not budgets_in_order([0.5, 2.0], upper=1.0)


def test_the_spec_parses_budget_text_when_the_parameters_are_merged():
    """`medadv evaluate --eps 1/255 8/255` and `-p eps '[1/255]'` reach the notebook as numbers on
    the [0, 1] scale: the spec's merge is the one parse (no check needs the model here)."""
    from medadv_lib.evaluation.page import SPEC
    from medadv_lib.specs import merged_parameters

    assert merged_parameters(SPEC, "smoke", {"eps": ["1/255", "8/255"]})["eps"] == [1 / 255, 8 / 255]
    assert merged_parameters(SPEC, "smoke", {"eps": "[1/255, 0.5]"})["eps"] == [1 / 255, 0.5]
    assert merged_parameters(SPEC, "smoke", {})["eps"] == []
    with pytest.raises(ParameterError, match="'x/255' is not a number"):
        merged_parameters(SPEC, "smoke", {"eps": ["x/255"]})


def test_the_library_checks_budgets_by_the_same_rule():
    import torch

    from medadv_lib.evaluation.robustness import DEFAULT_EPS, evaluate

    assert DEFAULT_EPS["Linf"] == (0.5 / 255, 2 / 255, 8 / 255)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 2))
    with pytest.raises(ValueError, match="increasing order"):
        evaluate(model, torch.rand(4, 3, 2, 2), torch.tensor([0, 1, 0, 1]), eps=[0.1, 0.01])


# ---------------------------------------------------------------- records

def _notebook(payload) -> nbformat.NotebookNode:
    from medadv_lib.verdicts import CLAIMS_MIME

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("claims_report(...)")
    cell.outputs = [nbformat.v4.new_output("display_data", data={CLAIMS_MIME: payload, "text/plain": "x"})]
    nb.cells.append(cell)
    return nb


def test_the_claim_record_is_written_and_read_as_its_declared_type():
    from medadv_lib.verdicts import (ClaimRecord, Claim, Fidelity, Outcome, check_claims, read_claims_outputs)
    from medadv_lib.verdicts.records import chapter_record

    claim = Claim("c1", "a claim", "Sec. 1", "the paper's evidence", test=lambda r: Outcome("holds", "e", 10))
    checked = check_claims([claim], None, fidelity=Fidelity(False, "smaller"))
    record = checked[0].record("ch", "synthetic", preset="smoke")
    assert list(record) == list(ClaimRecord.__annotations__)      # written with every declared field, in order
    block = chapter_record("ch", "synthetic", "headline", "smoke", "reduced: smaller", {"holds": 1}, [record])
    (read,) = read_claims_outputs(_notebook(json.dumps(block)), where="ch.ipynb")
    assert read == block
    # an older record without the fields added later still reads; one without a core field does not
    old = {k: v for k, v in record.items() if k not in ("kind", "seeds", "control", "preset", "fidelity")}
    assert read_claims_outputs(_notebook({"chapter": "ch", "run": "synthetic", "headline": "", "claims": [old]}))
    broken = {k: v for k, v in record.items() if k != "verdict"}
    with pytest.raises(ValueError, match=r"ch.ipynb, claim c1: the claims record lacks verdict"):
        read_claims_outputs(_notebook({"chapter": "ch", "run": "synthetic", "headline": "", "claims": [broken]}),
                            where="ch.ipynb")
    with pytest.raises(ValueError, match="lacks headline"):
        read_claims_outputs(_notebook({"chapter": "ch", "run": "synthetic", "claims": []}))


def test_a_sweep_cell_entry_is_one_declared_type(tmp_path):
    from medadv_lib.running.engine import SweepError
    from medadv_lib.running.sweep import SWEEP_JSON, CellEntry, read_sweep

    entry = {name: None for name in CellEntry.__required_keys__}
    (tmp_path / SWEEP_JSON).write_text(json.dumps({"cells": [dict(entry, label="seed=0")]}))
    assert read_sweep(tmp_path)["cells"][0]["label"] == "seed=0"
    del entry["status"]
    (tmp_path / SWEEP_JSON).write_text(json.dumps({"cells": [dict(entry, label="seed=0")]}))
    with pytest.raises(SweepError, match="cell 'seed=0' lacks status"):
        read_sweep(tmp_path)


def test_the_matrix_row_is_one_declared_type_and_one_table():
    from medadv_lib.evaluation.rows import MatrixRow, Victim, matrix_frame, outcome_row

    v = Victim("m", "evaluate", "multiclass", None, None, None)
    white = outcome_row(v, "pgd", "gradient", "white", "Linf", 2 / 255, np.array([True, False]))
    moved = outcome_row(v, "transfer", "gradient", "transfer", "Linf", 2 / 255, np.array([True, True]), source="n")
    assert isinstance(white, MatrixRow) and white.budget == "2/255" and white.robust_accuracy == 0.5
    frame = matrix_frame([white, moved])
    assert list(frame["attack"]) == ["pgd", "transfer"] and frame["source"].isna().iloc[0]
    assert frame["source"].iloc[1] == "n"
    assert "source" not in matrix_frame([white]).columns     # as the matrix always was: no transfer, no column

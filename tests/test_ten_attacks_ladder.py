"""The ten-attacks chapter's convergence table and scale ladder (issue 20)."""
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from medadv_lib.papers.ten_attacks import experiment as ex
from medadv_lib.papers.ten_attacks.published import PUBLISHED

IDS = ex.ATTACK_IDS


def white_rows(n=8, fooled=None, ran_out=None):
    """White-box rows: every image correct clean (label 1, prob 0.9); per attack the images fooled
    (prob 0.1) and those whose search ran out."""
    fooled, ran_out = fooled or {}, ran_out or {}
    rows = []
    for variant in ex.VARIANTS:
        for a in IDS:
            hit = np.arange(n) < fooled.get(a, n)
            rows.append(pd.DataFrame({"variant": variant, "source": variant, "setting": "white", "attack": a,
                                      "image": np.arange(n), "label": 1, "prob": np.where(hit, 0.1, 0.9),
                                      "success": hit, "clean_correct": True, "l2": 0.0, "linf": 0.0, "ssim": np.nan,
                                      "ran_out": ~hit & (np.arange(n) < fooled.get(a, n) + ran_out.get(a, 0))}))
    return pd.concat(rows, ignore_index=True)


def test_convergence_counts_the_searches_that_ran_out():
    attacks = white_rows(fooled={"S1": 2, "S2": 0}, ran_out={"S1": 6, "S2": 3})
    table = ex.convergence(attacks)
    assert list(table.index) == IDS
    assert table.loc["S1", "NL/AP ran out"] == "6/8" and table.loc["S2", "IR2/MP ran out"] == "3/8"
    assert table.loc["S1", "ran out, all four [95% CI] (%)"].startswith("75.0 [")
    assert (table.loc["S2", "fooled"], table.loc["S2", "failed otherwise"], table.loc["S2", "n"]) == (0, 20, 32)
    assert table.loc["G1", "ran out, all four [95% CI] (%)"].startswith("0.0 [") and table.loc["G1", "fooled"] == 32
    with pytest.raises(ValueError, match="ran_out"):
        ex.convergence(attacks.drop(columns="ran_out"))


def test_ladder_rungs_go_toward_the_paper():
    assert ex.ladder_rungs(320, 16) == [(80, 2), (320, 2), (320, 16)]
    assert ex.ladder_rungs(48, 4) == [(12, 1), (48, 1), (48, 4)]
    assert ex.ladder_rungs(16, 1) == [(8, 1), (16, 1)]            # duplicates dropped


def test_paper_gradient_accuracy_reads_table1():
    table, cols = PUBLISHED["table1_whitebox"], PUBLISHED["columns"]
    cells = [table[p][n]["Acc"][cols.index(a)] for p in ("MP", "AP") for n in ("IR2", "NL") for a in IDS[:5]]
    assert len(cells) == 20 and ex.paper_gradient_accuracy() == pytest.approx(np.mean(cells))
    assert 0.0 <= ex.paper_gradient_accuracy() <= 0.01


def test_this_runs_rungs_read_its_own_results():
    # G1-G5 fool the first 6 of 8 images: accuracy 2/8 on all of them, 0/4 on the first four
    tables = SimpleNamespace(attacks=white_rows(fooled={a: 6 for a in IDS}))
    data = SimpleNamespace(splits={75: (list(range(32)), None)})
    frame = ex.scale_ladder({}, data, tables, [(32, 4), (32, 8)], None, "reduced", "reduced", "smoke", 0, "cpu")
    assert frame["attacked images per network"].tolist() == [4, 8]
    assert frame["n"].tolist() == [4 * 5 * 4, 4 * 5 * 8]
    assert frame["accuracy under G1-G5 [95% CI]"].iloc[0].startswith("0.00 [")
    assert frame["accuracy under G1-G5 [95% CI]"].iloc[1].startswith("0.25 [")
    assert frame["gap to the paper (points)"].iloc[1] == pytest.approx(100 * (0.25 - ex.paper_gradient_accuracy()), abs=0.1)
    assert set(frame["networks"]) == {"this run's"} and set(frame["training images"]) == {32}


@pytest.mark.slow
def test_a_smaller_rung_trains_cached_networks_and_attacks_them(tmp_path, monkeypatch):
    from medadv_lib.training import TrainConfig

    monkeypatch.setenv("MEDADV_CACHE", str(tmp_path))
    torch.set_num_threads(1)
    data = ex.load_data("synthetic", "", 75, 75, 16, 8, 0)
    config = TrainConfig(epochs=1, batch_size=8, lr=1e-3, optimizer="adam", loss="bce", class_weighted=False, seed=0)
    tables = SimpleNamespace(attacks=white_rows(n=2))
    frame = ex.scale_ladder({}, data, tables, ex.ladder_rungs(16, 2)[:1], config, "reduced", "reduced", "smoke", 0,
                            "cpu")
    row = frame.iloc[0]
    assert row["networks"] == "trained on 8" and row["training images"] == 8
    assert row["attacked images per network"] == 1 and row["n"] == 4 * 5
    assert list((tmp_path / "checkpoints").iterdir())      # the rung's networks are in the cache

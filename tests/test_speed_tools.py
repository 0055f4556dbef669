"""benchmarks/profile_book.py (``make profile``) and benchmarks/gpu_check.py (``make gpu-check``):
their plans and reports, on any machine (nothing is trained or executed here)."""
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import gpu_check  # noqa: E402
import profile_book  # noqa: E402
import setup_time  # noqa: E402

GOLDEN = Path(__file__).parent / "notebooks"


@pytest.mark.parametrize("source, first, stage", [
    ("import numpy as np\nfrom medadv_lib import x", True, "kernel start"),
    ("device = resolve_device(device)\nseed_everything(seed)", True, "kernel start"),
    ("data = ex.load_data(dataset, data_root, image_size, n_train, n_test, seed, uap_images)", False, "data"),
    ("runs = ex.train_covidnets(data, width, epochs)\nmodels = {}", False, "training"),
    ("sweep = ex.uap_sweep(models, data, norms)", False, "UAPs"),
    ("results = ex.attack_all(runs, data)\nrates = ex.success_rates(results)", False, "attacks"),
    ("collection = ex.collection_models(chapters, preset)", False, "attacks"),
    ("display(Markdown('x'))\nfigures.figure1(sweep)\nplt.show()", False, "figures"),
    ("# NBVAL_CHECK_OUTPUT\nprint(format_claims(checked))", False, "metrics"),
    ("ex.positive_control(models, data, sweep, norms[-1], top, seed=seed)", False, "controls, ladders"),
    ("ex.scale_ladder(runs, data, tables, ex.ladder_rungs(len(train_set), n_attack))", False, "controls, ladders"),
    ("x = 1", False, "other"),
])
def test_cells_are_put_in_their_stage(source, first, stage):
    assert profile_book.classify(source, first) == stage


def _cell(source, seconds, tags=()):
    return {"cell_type": "code", "source": source, "metadata": {"tags": list(tags), "papermill": {"duration": seconds}}}


def test_a_notebook_profile_adds_up_to_its_wall_time():
    nb = {"metadata": {"medadv": {"wall_seconds": 20.0}},
          "cells": [_cell("preset = 'smoke'", 0.1, ["parameters"]), _cell("import torch", 2.0),
                    _cell("data = ex.load_data(seed)", 1.0), _cell("runs = ex.train_models(data)", 10.0),
                    {"cell_type": "markdown", "source": "# x", "metadata": {}},
                    _cell("figures.figure1(runs)", 0.9)]}
    stages = profile_book.profile_notebook(nb)
    assert stages["training"] == 10.0 and stages["data"] == 1.0 and stages["figures"] == 0.9
    assert stages["kernel start"] == pytest.approx(20.0 - 14.0 + 2.1)
    assert sum(stages.values()) == pytest.approx(20.0)


def test_profile_of_the_goldens_reports_every_stage(capsys):
    assert profile_book.main(["--from", str(GOLDEN)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("profile_total_s=") and float(out[-1].split("=")[1]) > 0
    assert any(line.startswith("stage_training_s=") for line in out)
    assert any(line.startswith("robustness-matrix") for line in out)
    with pytest.raises(SystemExit):
        profile_book.main(["--from", str(GOLDEN / "missing")])


def test_gpu_check_plan_is_each_chapter_at_the_paper_size(capsys):
    assert gpu_check.main(["--device", "cpu", "--dry-run"]) == 0
    out = capsys.readouterr().out
    runs = gpu_check.plan(device="cpu")
    assert [r["name"] for r in runs] == ["uap-covidnet", "ten-attacks", "smia", "backdoor"]
    sizes = {r["name"]: r["image_size"] for r in runs}
    assert sizes["uap-covidnet"] == {"image_size": 224} and sizes["ten-attacks"]["image_size"] == 299
    assert sizes["smia"] == {"cls_image_size": 224, "seg_image_size": 256}
    assert runs[0]["width"] == {"width": 1.0} and runs[3]["width"] == {"model_name": "densenet121"}
    assert sum(r["budget_s"] for r in runs) <= gpu_check.BUDGET_S
    assert "13569 x 15 passes" in out


def test_gpu_check_report_and_uap_extrapolation():
    assert gpu_check.uap_extrapolation(512, 10.0) == pytest.approx(10.0 / 512 * 13569 * 15)
    with pytest.raises(ValueError):
        gpu_check.uap_extrapolation(0, 1.0)
    uap = {"slice_images": 512, "slice_seconds": 10.0, "peak_gb": 3.0, "extrapolated_s": 3975.3}
    lines = gpu_check.report([{"name": "smia", "seconds": 100.0, "peak_gb": 2.5, "budget_s": 90, "ok": True},
                              {"name": "backdoor", "seconds": 50.0, "peak_gb": 9.0, "budget_s": 120, "ok": False}], uap)
    assert lines[0].endswith("over") and lines[1].endswith("FAILED")
    assert lines[-2:] == ["gpu_check_seconds=160", "uap_paper_extrapolated_s=3975"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_gpu_check_fails_clearly_without_cuda(capsys):
    assert gpu_check.main([]) == 2
    assert "needs a CUDA GPU, and this machine has none" in capsys.readouterr().err
    assert gpu_check.main(["--device", "cpu"]) == 2


def test_the_setup_benchmark_reads_the_books_schedule_lines():
    """benchmarks/setup_time.py (issue 31) reads each run's seconds off the lines the book's schedule
    prints (medadv_lib.running.schedule.run_jobs): the two must agree."""
    line = "== [3/18] uap-covidnet--kermany: ok in 412 s; ETA 21 min"
    match = setup_time.RUN_LINE.search(line)
    assert match.group(3, 4, 5) == ("uap-covidnet--kermany", "ok", "412")
    failed = setup_time.RUN_LINE.search("== [4/18] smia: failed: cell [3] failed")
    assert failed.group(3, 4) == ("smia", "failed") and failed.group(5) is None
    assert setup_time.main(["--dry-run", "--dest", "/nonexistent/x"]) == 0

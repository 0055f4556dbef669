"""The runner and the CLI: parameter checks before work, failures that keep the last good run."""
import json
from pathlib import Path

import nbformat
import pytest

from medadv_lib import cli
from medadv_lib.specs import PaperSpec, ParameterError, Rule, resolve_parameters
from medadv_lib.papers import papers
from medadv_lib.running.runner import RunError, run_notebook

FIXTURE = Path(__file__).parent / "fixtures" / "mini.py"
MINI = PaperSpec(name="mini", title="Mini", citation="-", source=FIXTURE,
                 presets={"smoke": {"n": 1}, "paper": {"n": 10}},
                 rules={"n": Rule(min=1, max=100), "scale": Rule(min=0.0)})


def test_presets_and_overrides_merge_in_order():
    assert resolve_parameters(MINI, "default")["n"] == 3
    assert resolve_parameters(MINI, "smoke")["n"] == 1
    params = resolve_parameters(MINI, "smoke", {"n": "7", "scale": "2", "names": "[x, y]"})
    assert params["n"] == 7 and params["scale"] == 2.0 and isinstance(params["scale"], float)
    assert params["names"] == ["x", "y"] and params["preset"] == "smoke"


@pytest.mark.parametrize("overrides, message", [
    ({"nn": "3"}, "unknown parameter 'nn'.*valid names: data_root, device, fail, n, names, preset, scale, seed"),
    ({"n": "abc"}, "parameter 'n': expected int"),
    ({"n": "2.5"}, "parameter 'n': expected int"),
    ({"fail": "3"}, "parameter 'fail': expected bool"),
    ({"n": "0"}, "below the minimum"),
    ({"n": "1000"}, "above the maximum"),
    ({"data_root": "/no/such/dir"}, "path does not exist: /no/such/dir"),
    ({"device": "tpu"}, "parameter 'device'"),
    ({"seed": "-1"}, "below the minimum"),
])
def test_bad_parameters_fail_with_one_clear_message(overrides, message):
    with pytest.raises(ParameterError, match=message):
        resolve_parameters(MINI, "default", overrides)


def test_unknown_preset_and_paper():
    with pytest.raises(ParameterError, match="unknown preset"):
        resolve_parameters(MINI, "huge")
    with pytest.raises(ParameterError, match="unknown paper 'nope'; available"):
        cli.get_paper("nope")


@pytest.mark.slow
def test_run_success_then_failure_keeps_last_good(tmp_path):
    out = run_notebook(MINI, "smoke", {"scale": "2"}, tmp_path, progress=False)
    nb = nbformat.read(out, as_version=4)
    sources = [c.source for c in nb.cells]
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
    params_cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert "n = 1" in params_cell.source and "scale = 2.0" in params_cell.source
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "2.0 ['a', 'b'] 0" in printed
    prov = json.loads((tmp_path / "mini.provenance.json").read_text())
    assert prov["preset"] == "smoke" and prov["parameters"]["n"] == 1 and prov["seed"] == 0
    assert prov["device"].startswith(("cpu", "cuda")) and "torch" in prov["versions"]
    good = out.read_bytes()

    with pytest.raises(RunError, match=r"cell \[\d+\] failed with RuntimeError: asked to fail"):
        run_notebook(MINI, "smoke", {"fail": "true"}, tmp_path, progress=False)
    assert out.read_bytes() == good                      # last good run untouched
    assert (tmp_path / "mini.failed.ipynb").is_file()    # the failure kept for inspection
    assert len(sources) > 2


def test_cli_rejects_bad_input_before_running(capsys, tmp_path):
    name = next(iter(papers()))
    code = cli.main(["run", name, "-p", "no_such_param", "1", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "unknown parameter 'no_such_param'" in err and "valid names:" in err
    assert not list(tmp_path.iterdir())                   # nothing ran, nothing written


def test_cli_help_on_every_command(capsys):
    for argv in (["--help"], ["list", "--help"], ["run", "--help"], ["book", "--help"]):
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        assert exc.value.code == 0
    assert "--preset" in capsys.readouterr().out


def test_cli_list_shows_every_paper_and_parameters(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for name, spec in papers().items():
        assert f"{name}: {spec.title}" in out
    if papers():
        assert "seed = 0" in out and "data_root = ''" in out


def test_cli_data_dir_names_the_folder_of_the_dataset(capsys, tmp_path):
    """``--data-dir DIR -p dataset NAME`` takes NAME's folder under DIR; every misuse exits 2 first."""
    for argv, message in (
            (["run", "smia", "--data-dir", str(tmp_path)], "--data-dir needs -p dataset NAME"),
            (["run", "smia", "-p", "dataset", "retinamnist", "--data-dir", str(tmp_path / "no")],
             "data folder not found"),
            (["run", "smia", "-p", "dataset", "retinamnist", "--data-dir", str(tmp_path)],
             "no 'retinamnist' folder under"),
            (["run", "smia", "-p", "dataset", "retinamnist", "-p", "data_root", "x", "--data-dir", str(tmp_path)],
             "either --data-dir or -p data_root")):
        assert cli.main(argv + ["--out", str(tmp_path / "out")]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_data_dir_finds_the_shared_folder():
    from conftest import shared_or_skip

    data = shared_or_skip("data")
    assert cli._data_root({"dataset": "retinamnist"}, str(data)) == str(data / "medmnist")
    assert cli._data_root({"dataset": "nih-cxr14"}, str(data)) == str(data / "nih-cxr14-1000")


def test_real_run_page_title_names_the_dataset():
    """Issue 11: a real run's page is titled "paper, dataset", so the sidebar tells the runs apart;
    the synthetic default keeps the chapter's title, and finalizing twice appends once."""
    from medadv_lib.running.runner import finalize_notebook

    def notebook():
        return nbformat.v4.new_notebook(cells=[
            nbformat.v4.new_code_cell("x = 1"),
            nbformat.v4.new_markdown_cell("# Ten attacks on chest X-ray classifiers\n\nProse.\n# Later"),
        ])

    real = finalize_notebook(notebook(), {"dataset": "nih-cxr14"}, "smoke")
    real = finalize_notebook(real, {"dataset": "nih-cxr14"}, "smoke")
    assert real.cells[1].source == ("# Ten attacks on chest X-ray classifiers, on NIH ChestX-ray14"
                                    "\n\nProse.\n# Later")
    synthetic = finalize_notebook(notebook(), {"dataset": "synthetic"}, "smoke")
    assert synthetic.cells[1].source.splitlines()[0] == "# Ten attacks on chest X-ray classifiers"

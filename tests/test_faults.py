"""Faults a user meets, each kept as a test so none comes back (issue 14).

Checkpoints: a damaged cache file is never used; it is moved aside with one warning naming it and
recomputed, giving the same numbers as a clean run.
"""
import os
import struct
import warnings
import zipfile

import pytest
import torch

from medadv_lib.cache import CacheWarning, VerifiedFolder
from medadv_lib.data import covidx_splits
from medadv_lib.training import TrainConfig, load_epoch, train_model

KW = {"num_classes": 3, "width": 8, "depth": 3}
CONFIG = TrainConfig(epochs=3, batch_size=32, seed=3)


@pytest.fixture(scope="module")
def data():
    return covidx_splits(None, 32, 120, 30, seed=0)


@pytest.fixture
def clean(data, tmp_path, monkeypatch):
    """A clean run in a fresh cache: the reference numbers."""
    monkeypatch.setenv("MEDADV_CACHE", str(tmp_path / "cache"))
    result = train_model("simple-cnn", KW, data[0], CONFIG, "cpu", progress=False)
    return result, {k: v.clone() for k, v in result.model.state_dict().items()}


def _same(model, reference):
    return all(torch.equal(a, reference[k]) for k, a in model.state_dict().items())


def _flip_inside_largest_tensor(path, count=400):
    """Flip ``count`` bytes inside the stored bytes of the largest tensor: size and zip structure
    stay intact (torch.load does not check the CRCs, so it would load different weights)."""
    with zipfile.ZipFile(path) as archive:
        info = max((i for i in archive.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    with open(path, "r+b") as handle:
        handle.seek(info.header_offset + 26)
        name_len, extra_len = struct.unpack("<HH", handle.read(4))
        start = info.header_offset + 30 + name_len + extra_len + info.file_size // 4
        handle.seek(start)
        chunk = bytearray(handle.read(count))
        handle.seek(start)
        handle.write(bytes(b ^ 0xFF for b in chunk))


def _random_bytes(path):
    size = path.stat().st_size
    path.write_bytes(os.urandom(size))


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("damage", [_flip_inside_largest_tensor, _random_bytes, _truncate],
                         ids=["flipped-bytes", "random-bytes", "truncated"])
@pytest.mark.slow
def test_damaged_final_checkpoint_is_moved_aside_and_recovered(clean, data, damage):
    result, reference = clean
    final = result.checkpoint_dir / "final.pt"
    damage(final)
    if damage is _flip_inside_largest_tensor:  # the danger: torch.load accepts it silently
        blob = torch.load(final, map_location="cpu", weights_only=True)
        assert not all(torch.equal(blob["model"][k], reference[k]) for k in reference)
    with pytest.warns(CacheWarning, match=r"final\.pt failed its check.*moved aside"):
        again = train_model("simple-cnn", KW, data[0], CONFIG, "cpu", progress=False)
    assert _same(again.model, reference)
    assert len(list((result.checkpoint_dir / "quarantine").iterdir())) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")                      # the next run is clean and cached
        third = train_model("simple-cnn", KW, data[0], CONFIG, "cpu", progress=False)
    assert third.from_cache and _same(third.model, reference)


@pytest.mark.slow
def test_damaged_epoch_file_on_the_resume_path(clean, data):
    result, reference = clean
    folder = result.checkpoint_dir
    for name in ("final.pt", "history.json", "epoch_003.pt"):   # an interrupted run ...
        (folder / name).unlink()
    _truncate(folder / "epoch_002.pt")                          # ... whose last epoch file is damaged
    with pytest.warns(CacheWarning, match=r"epoch_002\.pt failed its check"):
        again = train_model("simple-cnn", KW, data[0], CONFIG, "cpu", progress=False)
    assert not again.from_cache and _same(again.model, reference)


@pytest.mark.slow
def test_damaged_epoch_file_read_by_load_epoch_is_recomputed(clean):
    result, _ = clean
    expected = {k: v.clone() for k, v in load_epoch(result, 2, "cpu").state_dict().items()}
    _flip_inside_largest_tensor(result.checkpoint_dir / "epoch_002.pt")
    with pytest.warns(CacheWarning, match=r"epoch_002\.pt failed its check"):
        model = load_epoch(result, 2, "cpu")
    assert _same(model, expected)


@pytest.mark.slow
def test_unreadable_manifest_quarantines_and_retrains(clean, data):
    result, reference = clean
    (result.checkpoint_dir / "manifest.json").write_text("{not json")
    with pytest.warns(CacheWarning, match="manifest"):
        again = train_model("simple-cnn", KW, data[0], CONFIG, "cpu", progress=False)
    assert _same(again.model, reference)


def test_verified_folder_round_trip_and_unrecorded_file(tmp_path):
    store = VerifiedFolder(tmp_path)
    store.write_json("a.json", {"x": 1})
    store.write_torch("t.pt", {"w": torch.arange(3)})
    assert store.read_json("a.json") == {"x": 1}
    assert torch.equal(store.read_torch("t.pt")["w"], torch.arange(3))
    assert store.read_json("missing.json") is None
    (tmp_path / "stray.pt").write_bytes(b"x")
    with pytest.warns(CacheWarning, match="not recorded in the manifest"):
        assert store.read_bytes("stray.pt") is None
    with pytest.raises(ValueError):
        store.write_json("nan.json", {"x": float("nan")})     # strict JSON only


# --------------------------------------------------------------------------- runs and their edges
import glob
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from medadv_lib.specs import PaperSpec, Rule
from medadv_lib.running.kernel import WORKDIR_PREFIX, clean_stale_workdirs
from medadv_lib.running.runner import run_notebook

FIXTURE = Path(__file__).parent / "fixtures" / "mini.py"
MINI = PaperSpec(name="mini", title="Mini", citation="-", source=FIXTURE,
                 rules={"scale": Rule(min=0.0), "sleep": Rule(min=0.0)})
# `medadv` with the mini notebook registered, as a separate process (signals, namespaces)
CLI = ("import sys; from pathlib import Path; from medadv_lib import cli; "
       "from medadv_lib.specs import PaperSpec, Rule; "
       f"spec = PaperSpec(name='mini', title='Mini', citation='-', source=Path({str(FIXTURE)!r}), "
       "rules={'scale': Rule(min=0.0), 'sleep': Rule(min=0.0)}); "
       "cli.get_paper = lambda name: spec; sys.exit(cli.main(sys.argv[1:]))")


def _workdirs() -> set[str]:
    return set(glob.glob(f"/tmp/{WORKDIR_PREFIX}mini-*"))


@pytest.mark.slow
def test_a_run_needs_no_network_not_even_loopback(tmp_path):
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True) if shutil.which("unshare") else None
    if probe is None or probe.returncode != 0:
        pytest.skip("this machine does not allow a network namespace (unshare -n) for this user")
    started = time.monotonic()
    proc = subprocess.run(["unshare", "-n", sys.executable, "-c", CLI, "run", "mini", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert time.monotonic() - started < 60                  # no 60 s kernel time-out
    assert "TCP" not in proc.stderr and "Traceback" not in proc.stderr
    assert (tmp_path / "mini.ipynb").is_file()


@pytest.mark.slow
def test_ctrl_c_one_line_exit_130_last_good_kept_nothing_left(tmp_path):
    run_notebook(MINI, "default", {}, tmp_path, progress=False)
    good = (tmp_path / "mini.ipynb").read_bytes()
    before = _workdirs()
    proc = subprocess.Popen([sys.executable, "-c", CLI, "run", "mini", "-p", "steps", "100", "-p", "sleep",
                             "0.2", "--out", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while not (_workdirs() - before) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(4)                                             # the kernel is running the loop
    os.killpg(proc.pid, signal.SIGINT)                        # what a terminal's Ctrl-C sends
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    lines = [line for line in err.splitlines() if not line.startswith("mini: ")]   # progress lines aside
    assert lines == ["interrupted; the last good mini.ipynb is kept"], err[-2000:]
    assert (tmp_path / "mini.ipynb").read_bytes() == good
    assert not (_workdirs() - before)


@pytest.mark.slow
def test_a_killed_run_leaves_a_work_folder_that_the_next_run_removes(tmp_path):
    before = _workdirs()
    proc = subprocess.Popen([sys.executable, "-c", CLI, "run", "mini", "-p", "steps", "100", "-p", "sleep",
                             "0.2", "--out", str(tmp_path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while not (_workdirs() - before) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)
    proc.kill()
    proc.wait()
    left = _workdirs() - before
    assert left, "SIGKILL leaves the work folder (nothing can clean up)"
    removed = clean_stale_workdirs()
    assert {str(p) for p in removed} >= left and not (_workdirs() - before)


@pytest.mark.slow
def test_outputs_get_the_users_umask_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        run_notebook(MINI, "default", {}, tmp_path, progress=False)
    finally:
        os.umask(old)
    for name in ("mini.ipynb", "mini.provenance.json"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name


@pytest.mark.slow
def test_progress_goes_to_the_terminal_not_into_the_notebook(tmp_path):
    proc = subprocess.run([sys.executable, "-c", CLI, "run", "mini", "-p", "steps", "12", "-p", "sleep", "0.1",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "mini: mini loop" in proc.stderr and "it/s" in proc.stderr
    notebook = (tmp_path / "mini.ipynb").read_text()
    assert "mini loop" in notebook                          # the source line is there ...
    outputs = [o for c in json.loads(notebook)["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert not any("mini loop" in json.dumps(o) for o in outputs)   # ... but no bar in any output


@pytest.mark.parametrize("value", [".nan", ".inf", "1e400"])
def test_non_finite_numbers_are_refused_before_anything_runs(value, tmp_path, capsys):
    import medadv_lib.cli as cli_module
    original = cli_module.get_paper
    cli_module.get_paper = lambda name: MINI
    try:
        code = cli_module.main(["run", "mini", "-p", "scale", value, "--out", str(tmp_path)])
    finally:
        cli_module.get_paper = original
    assert code == 2 and "is not a finite number" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())

"""Real-data loaders (Kermany, MedMNIST, CT folder pairs, ChestX-ray14, COVIDx) and the dataset registry:
on files the tests write in each format, and on ../shared/data when present."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import shared_or_skip
from medadv_lib.data.ct import ct_infection_splits, check_ct_folders
from medadv_lib.data.errors import DataFileError
from medadv_lib.data.kermany import check_kermany, kermany_files, kermany_splits
from medadv_lib.data.medmnist import check_medmnist, load_medmnist, medmnist_file
from medadv_lib.data.registry import DATASETS, find_data, get_dataset


# --------------------------------------------------------------------------- Kermany
def _jpeg(path, value, size=(40, 32)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(path)


def write_kaggle_layout(root, n=4, val=True):
    for split in ("train", "test") + (("val",) if val else ()):
        for k in range(n):
            _jpeg(root / "chest_xray" / split / "NORMAL" / f"IM-{k:04d}-0001.jpeg", 30 + k)
            _jpeg(root / "chest_xray" / split / "PNEUMONIA" / f"person{k}_bacteria_{k}.jpeg", 200 - k)
    return root


def write_csv_layout(root, rows=None):
    rows = rows or [("train/NORMAL/a.jpeg", "train", "normal"), ("train/PNEUMONIA/b.jpeg", "train", "pneumonia"),
                    ("test/NORMAL/c.jpeg", "test", "normal"), ("test/PNEUMONIA/d.jpeg", "test", "pneumonia")]
    lines = ["path,split,label,subtype,patient"]
    for k, (path, split, label) in enumerate(rows):
        _jpeg(root / "images" / path, (50 * k) % 250)
        lines.append(f"{path},{split},{label},none,p{k}")
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return root


def test_kermany_kaggle_layout_with_and_without_val(tmp_path):
    files = kermany_files(write_kaggle_layout(tmp_path / "a"))
    assert [len(files[s]) for s in ("train", "test")] == [8, 8]
    assert {f.subtype for f in files["train"] if f.label == "pneumonia"} == {"bacteria"}
    train, test = kermany_splits(write_kaggle_layout(tmp_path / "b", val=False) / "chest_xray", 32, 0, 0, 0)
    assert train.images.shape == (8, 1, 32, 32) and train.class_names == ["normal", "pneumonia"]
    assert sorted(train.targets.tolist()) == [0] * 4 + [1] * 4 and "chest_xray/" in train.source
    assert train.targets.tolist() != [0] * 4 + [1] * 4          # a seeded order, not the folders'


def test_kermany_first_images_of_a_split_hold_both_classes(tmp_path):
    """The listing is folder by folder (every normal first); the first images of a split, which the
    chapters attack or compute UAPs on, must carry both classes in about their shares."""
    rows = [(f"train/{'NORMAL' if k < 30 else 'PNEUMONIA'}/{k}.jpeg", "train", "normal" if k < 30 else "pneumonia")
            for k in range(90)] + [("test/NORMAL/t.jpeg", "test", "normal"), ("test/PNEUMONIA/u.jpeg", "test", "pneumonia")]
    train, _ = kermany_splits(write_csv_layout(tmp_path, rows), 32, 0, 0, seed=0)
    first = train.targets[:30].tolist()
    assert 5 <= first.count(0) <= 15                                # 1/3 normal overall: 10 expected
    again, _ = kermany_splits(tmp_path, 32, 0, 0, seed=0)
    assert again.ids == train.ids                                    # the order is the seed's


def test_kermany_csv_layout_and_stratified_subset(tmp_path):
    rows = [(f"train/{'NORMAL' if k < 6 else 'PNEUMONIA'}/{k}.jpeg", "train", "normal" if k < 6 else "pneumonia")
            for k in range(18)] + [("test/NORMAL/t.jpeg", "test", "normal"), ("test/PNEUMONIA/u.jpeg", "test", "pneumonia")]
    root = write_csv_layout(tmp_path, rows)
    train, _ = kermany_splits(root, 32, 6, 0, seed=0)
    assert train.class_counts().tolist() == [2, 4]                 # 6:12 kept as 1:2
    again, _ = kermany_splits(root, 32, 6, 0, seed=0)
    assert again.ids == train.ids


@pytest.mark.parametrize("fault, message", [
    ("header", "missing column"), ("label", "unknown label 'covid'"), ("missing", "not on disk"),
    ("empty", "the test split holds no image"),
])
def test_kermany_faults_are_named(tmp_path, fault, message):
    root = write_csv_layout(tmp_path)
    if fault == "header":
        (root / "labels.csv").write_text((root / "labels.csv").read_text().replace("label", "class", 1))
    elif fault == "label":
        (root / "labels.csv").write_text((root / "labels.csv").read_text().replace(",normal,", ",covid,", 1))
    elif fault == "missing":
        (root / "images" / "test" / "NORMAL" / "c.jpeg").unlink()
    else:
        text = (root / "labels.csv").read_text().splitlines()
        (root / "labels.csv").write_text("\n".join(line for line in text if ",test," not in line) + "\n")
    with pytest.raises(DataFileError, match=message):
        check_kermany(root)


def test_kermany_truncated_image_names_the_file(tmp_path):
    root = write_csv_layout(tmp_path)
    bad = root / "images" / "train" / "PNEUMONIA" / "b.jpeg"
    bad.write_bytes(bad.read_bytes()[:40])
    check_kermany(root)                                            # the cheap check cannot see it ...
    with pytest.raises(DataFileError, match=r"cannot read image .*b\.jpeg"):
        kermany_splits(root, 32, 0, 0, 0)                          # ... decoding names it


def test_kermany_shared_folder():
    root = shared_or_skip("data/kermany-cxr")
    check_kermany(root)
    files = kermany_files(root)
    assert len(files["train"]) == 5216 and len(files["test"]) == 624
    train, test = kermany_splits(root, 32, 300, 100, 0)
    assert train.class_counts().tolist() == [77, 223] and len(test) == 100


# --------------------------------------------------------------------------- MedMNIST
def write_medmnist(root, flag="retinamnist", size=28, channels=3, counts=(1080, 120, 400), classes=5):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in zip(("train", "val", "test"), counts):
        shape = (n, size, size, channels) if channels == 3 else (n, size, size)
        arrays[f"{split}_images"] = rng.integers(0, 256, shape, dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % classes).reshape(n, 1).astype(np.uint8)
    root.mkdir(parents=True, exist_ok=True)
    np.savez(medmnist_file(root, flag, size), **arrays)
    return root


def test_medmnist_through_the_package_any_size_and_resize(tmp_path):
    root = write_medmnist(tmp_path)
    data = load_medmnist(root, "retinamnist", "test")
    assert data.images.shape == (400, 3, 28, 28) and data.images.dtype == torch.uint8
    assert data.targets[:6].tolist() == [0, 1, 2, 3, 4, 0] and "retinamnist" in data.source
    resized = load_medmnist(root, "retinamnist", "test", image_size=32)
    assert resized.images.shape == (400, 3, 32, 32)
    write_medmnist(tmp_path, size=64)
    assert medmnist_file(tmp_path, "retinamnist", 64).name == "retinamnist_64.npz"
    assert load_medmnist(tmp_path, "retinamnist", "val", size=64).images.shape == (120, 3, 64, 64)
    gray = write_medmnist(tmp_path / "p", "pneumoniamnist", channels=1, counts=(4708, 524, 624), classes=2)
    assert load_medmnist(gray, "pneumoniamnist", "val").images.shape == (524, 1, 28, 28)


def test_medmnist_never_downloads_unless_asked(tmp_path):
    with pytest.raises(DataFileError, match=r"MedMNIST file not found at .*retinamnist\.npz"):
        load_medmnist(tmp_path, "retinamnist", "train")
    with pytest.raises(DataFileError, match="retinamnist_128.npz"):
        check_medmnist(tmp_path, "retinamnist", 128)


def test_medmnist_damaged_or_wrong_count_file(tmp_path):
    root = write_medmnist(tmp_path, counts=(10, 2, 3))
    with pytest.raises(DataFileError, match="holds 10 images, the official file 1080"):
        load_medmnist(root, "retinamnist", "train")
    medmnist_file(root, "retinamnist").write_bytes(b"not a zip")
    with pytest.raises(DataFileError, match="not a readable MedMNIST file"):
        check_medmnist(root, "retinamnist")


def test_medmnist_shared_files():
    root = shared_or_skip("data/medmnist")
    retina = load_medmnist(root, "retinamnist", "test")
    assert retina.class_counts().tolist() == [174, 46, 92, 68, 20]
    pneumonia = load_medmnist(root, "pneumoniamnist", "train")
    assert pneumonia.class_counts().tolist() == [1214, 3494]


# --------------------------------------------------------------------------- CT folder pairs
def write_ct(root, n=3, sizes=((30, 40),)):
    for split in ("train", "test"):
        for k in range(n):
            h, w = sizes[k % len(sizes)]
            (root / split / "images").mkdir(parents=True, exist_ok=True)
            (root / split / "masks").mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((h, w), 100 + k, np.uint8)).save(root / split / "images" / f"{k}.jpg")
            mask = np.zeros((h, w), np.uint8)
            mask[: h // 2] = 255
            Image.fromarray(mask).save(root / split / "masks" / f"{k}.png")
    return root


def test_ct_folder_pairs_resize_and_binarise(tmp_path):
    train, test = ct_infection_splits(write_ct(tmp_path, sizes=((30, 40), (50, 20))), 32, 0, 0)
    assert train.images.shape == (3, 1, 32, 32) and train.targets.shape == (3, 32, 32)
    assert set(train.targets.unique().tolist()) == {0, 1} and float(train.targets.float().mean()) == pytest.approx(0.5)
    assert train.class_names == ["background", "infection"] and "INFECTION masks" in train.source


@pytest.mark.parametrize("fault, message", [("mask", r"0\.jpg has no mask"), ("image", r"1\.png has no image"),
                                            ("empty", "holds no image"), ("folder", "expected the folders")])
def test_ct_folder_faults(tmp_path, fault, message):
    root = write_ct(tmp_path)
    if fault == "mask":
        (root / "train" / "masks" / "0.png").unlink()
    elif fault == "image":
        (root / "test" / "images" / "1.jpg").unlink()
    elif fault == "empty":
        for p in list((root / "test" / "images").iterdir()) + list((root / "test" / "masks").iterdir()):
            p.unlink()
    else:
        (root / "test" / "masks").rename(root / "test" / "labels")
    with pytest.raises(DataFileError, match=message):
        check_ct_folders(root)


def test_ct_mask_of_another_size_is_refused(tmp_path):
    root = write_ct(tmp_path)
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(root / "train" / "masks" / "2.png")
    with pytest.raises(DataFileError, match=r"2\.jpg is \(30, 40\) but its mask"):
        ct_infection_splits(root, 32, 0, 0)


def test_ct_shared_folder():
    root = shared_or_skip("data/covid-ct-infection")
    train, test = ct_infection_splits(root, 64, 0, 0)
    assert len(train) == 50 and len(test) == 48
    share = float(train.targets.float().mean())
    assert 0.05 < share < 0.3                                      # infection covers 0.9 % to 60 % of a slice


# --------------------------------------------------------------------------- NIH sample and COVIDx sample
def test_nih_sample_as_it_is_both_tasks():
    root = shared_or_skip("data/nih-cxr14-1000")
    dataset = get_dataset("nih-cxr14")
    dataset.check(root)
    train, test = dataset.load(root, 64, 0, 0, 0, task="multilabel")
    assert (len(train), len(test)) == (793, 207) and train.targets.shape == (793, 14)
    assert int(train.targets.sum() + test.targets.sum()) == 170 + 162 + 95 + 83 + 42 + 40 + 39 + 37 + 35 + 32 + 31 + 29 + 11 + 9
    binary, _ = dataset.load(root, 32, 0, 0, 0, task="binary")
    assert set(binary.targets.unique().tolist()) == {0, 1} and "nih-cxr14-1000/" in binary.source


def test_covidx_sample_check():
    root = shared_or_skip("data/covidx-sample")
    get_dataset("covidx").check(root)


# --------------------------------------------------------------------------- the registry
def test_find_data_by_folder_name(tmp_path):
    write_csv_layout(tmp_path / "kermany-cxr")
    write_medmnist(tmp_path / "medmnist")
    write_ct(tmp_path / "covid-ct-infection")
    (tmp_path / "unrelated").mkdir()
    found = find_data(tmp_path)
    assert found == {"kermany": tmp_path / "kermany-cxr", "retinamnist": tmp_path / "medmnist",
                     "covid-ct-infection": tmp_path / "covid-ct-infection"}
    for name, path in found.items():
        DATASETS[name].check(path)
    with pytest.raises(DataFileError, match="data folder not found"):
        get_dataset("kermany").check(tmp_path / "nope")
    with pytest.raises(ValueError, match="unknown dataset 'fundus'"):
        get_dataset("fundus")


def test_every_shared_dataset_is_found_and_passes_its_check():
    found = find_data(shared_or_skip("data"))
    assert set(found) == set(DATASETS) - {"synthetic"}
    for name, path in found.items():
        DATASETS[name].check(path)


def test_the_registry_and_the_checks_stay_torch_free(tmp_path):
    write_csv_layout(tmp_path / "kermany-cxr")
    code = ("import sys; from medadv_lib.data.registry import get_dataset; "
            f"get_dataset('kermany').check({str(tmp_path / 'kermany-cxr')!r}); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_relative_data_root_is_read_from_the_project_root(tmp_path, monkeypatch):
    """A rendered notebook shows data_root relative to the project; re-run from another folder
    (book/notebooks, the goldens) it still finds the data."""
    from medadv_lib.data.registry import PROJECT_ROOT, resolve_root

    monkeypatch.chdir(tmp_path)
    assert resolve_root("medadv_lib/data") == PROJECT_ROOT / "medadv_lib" / "data"
    (tmp_path / "here").mkdir()
    assert resolve_root("here") == Path("here")                  # found from the working directory first
    assert resolve_root("nowhere/at-all") == Path("nowhere/at-all")   # not found: as given, for the error

"""Synthetic chest X-rays and the COVIDx loader (written files in the real format, real sample)."""
import numpy as np
import pytest
import torch
from PIL import Image

from medadv_lib.data import DataFileError, covidx_splits, load_covidx, parse_split_line, read_split_file
from medadv_lib.data import synthetic
from medadv_lib.data.covidx import covidnet_preprocess, synthetic_covidx


def test_synthetic_is_deterministic_nested_and_sized():
    a, la = synthetic.covidx_images(6, 64, seed=3)
    b, lb = synthetic.covidx_images(6, 64, seed=3)
    c, _ = synthetic.covidx_images(3, 64, seed=3)
    d, _ = synthetic.covidx_images(6, 64, seed=4)
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    assert np.array_equal(a[:3], c)                       # nested: first images do not depend on n
    assert not np.array_equal(a, d)
    assert a.shape == (6, 1, 64, 64) and a.dtype == np.float32
    assert a.min() >= 0 and a.max() <= 1
    for size in (64, 512):
        img, _ = synthetic.covidx_images(1, size, seed=0)
        assert img.shape[-1] == size


def test_synthetic_rejects_bad_sizes():
    with pytest.raises(ValueError, match="image_size must be in"):
        synthetic.covidx_images(2, 16, 0)
    with pytest.raises(TypeError):
        synthetic.covidx_images(2, 64.0, 0)


def test_classes_differ_in_the_expected_places():
    """COVID-19 adds bilateral, lower-zone density; pneumonia adds denser focal density."""
    rng_imgs = {}
    for label in range(3):
        rng_imgs[label] = np.stack([synthetic.covidx_image(96, 0, i, label) for i in range(40)])
    normal, pneu, covid = (rng_imgs[k].mean(0) for k in range(3))
    lower_periphery = (slice(55, 85), np.r_[8:30, 66:88])
    assert covid[lower_periphery].mean() > normal[lower_periphery].mean() + 0.005
    assert np.abs(pneu - normal).max() > 0.01


def test_the_calibration_moves_only_the_disease_severity():
    """The severity floor (issue 20, item 7) changes the diseased images and no random draw: the
    normal images are the same at every floor, a higher floor makes the findings denser, and the
    floor the task uses is the one its datasets and page banner name."""
    low, high = (synthetic.Calibration(f, "test", "test") for f in (0.0, 0.9))
    for label in (0, 1, 2):
        a = np.stack([synthetic.covidx_image(64, 0, i, label, low) for i in range(8)])
        b = np.stack([synthetic.covidx_image(64, 0, i, label, high) for i in range(8)])
        if label == 0:
            assert np.array_equal(a, b)
        else:
            assert b.mean() > a.mean()          # denser opacities
    with pytest.raises(ValueError, match="severity_floor"):
        synthetic.Calibration(1.0, "t", "m")
    train = synthetic_covidx(3, 64, 0)
    assert train.calibration == synthetic.COVIDX_CALIBRATION.describe()
    # every derived dataset keeps the fields it does not change (dataclasses.replace)
    two = synthetic_covidx(4, 64, 0).subset([0, 1, 2, 3])
    two.targets = torch.tensor([0, 1, 1, 0])
    two.class_names, two.transform = ["normal", "disease"], "a transform"
    for derived in (train.subset([0, 1]), two.as_one_label(), two.with_images(two.images.clone(), "note")):
        assert derived.calibration == train.calibration
    assert two.as_one_label().transform == two.with_images(two.images, "n").transform == "a transform"
    assert two.with_images(two.images, "poisoned").source.endswith("; poisoned")
    from medadv_lib.verdicts import data_banner
    assert f"{synthetic.COVIDX_CALIBRATION.severity_floor:g} or more" in data_banner(train)


def test_imbalance_option_follows_covidx_shares():
    labels = synthetic.covidx_labels(20000, seed=0, imbalance=True)
    shares = np.bincount(labels, minlength=3) / len(labels)
    assert np.allclose(shares, synthetic.COVIDX_IMBALANCE, atol=0.01)
    assert np.array_equal(np.bincount(synthetic.covidx_labels(9, 0, False)), [3, 3, 3])


@pytest.mark.parametrize("line, expected", [
    ("3 SARS-10.1148rg.242035193-g04mr34g0-Fig8a-day0.jpeg pneumonia",
     ("3", "SARS-10.1148rg.242035193-g04mr34g0-Fig8a-day0.jpeg", "pneumonia", None)),
    ("419639-003251 MIDRC-RICORD-1C-419639-003251-46647-0.png COVID-19 ricord",
     ("419639-003251", "MIDRC-RICORD-1C-419639-003251-46647-0.png", "COVID-19", "ricord")),
    ("COVID 1 COVID(1).png COVID-19 sirm", ("COVID 1", "COVID(1).png", "COVID-19", "sirm")),
    ("abc img.JPG positive bimcv", ("abc", "img.JPG", "positive", "bimcv")),
    ("abc img.jpg negative", ("abc", "img.jpg", "negative", None)),
])
def test_split_lines_of_every_release(line, expected):
    e = parse_split_line(line)
    assert (e.patient_id, e.filename, e.label, e.source) == expected


@pytest.mark.parametrize("line", ["justone", "pid file.png", "pid file.png sick"])
def test_bad_split_lines_are_named(line):
    with pytest.raises(DataFileError, match="split.txt:7"):
        parse_split_line(line, "split.txt:7")


def _write_covidx(root, rows, split):
    (root / split).mkdir(parents=True, exist_ok=True)
    lines = []
    for k, (label, cols) in enumerate(rows):
        name = f"{split}_{k}.png"
        arr = np.full((120, 100), 40 * (k % 5), np.uint8)
        arr[:20] = 255  # the top sixth is dropped by COVID-Net's preprocessing
        Image.fromarray(arr).save(root / split / name)
        lines.append(" ".join([f"p {k}" if cols == 5 else f"p{k}", name, label] + (["src"] if cols >= 4 else [])))
    (root / f"{split}.txt").write_text("\n".join(lines) + "\n")


def test_load_written_covidx_files(tmp_path):
    _write_covidx(tmp_path, [("normal", 3), ("pneumonia", 4), ("COVID-19", 5), ("COVID-19", 4)], "train")
    _write_covidx(tmp_path, [("normal", 4), ("COVID-19", 3)], "test")
    train, test = covidx_splits(str(tmp_path), 32, 0, 0, 0)
    assert train.images.shape == (4, 1, 32, 32) and train.images.dtype == torch.uint8
    assert train.targets.tolist() == [0, 1, 2, 2] and test.targets.tolist() == [0, 2]
    assert train.float_images().max() < 0.7          # the bright top band was cropped away
    assert not train.is_synthetic and f"from {tmp_path.name}/" in train.source and str(tmp_path) not in train.source
    w = train.class_weights()
    assert w[2] < w[0] and torch.isclose(w.mean(), torch.tensor(1.0))


def test_missing_and_corrupt_files_are_named(tmp_path):
    with pytest.raises(DataFileError, match="not a directory"):
        load_covidx(tmp_path / "nope")
    with pytest.raises(DataFileError, match="no train split file"):
        load_covidx(tmp_path)
    _write_covidx(tmp_path, [("normal", 3)], "train")
    (tmp_path / "train" / "train_0.png").write_bytes(b"not a png")
    with pytest.raises(DataFileError, match="cannot read image .*train_0.png"):
        load_covidx(tmp_path, "train", 32)
    (tmp_path / "train" / "train_0.png").unlink()
    with pytest.raises(DataFileError, match="'train_0.png' listed in the train split was not found"):
        load_covidx(tmp_path, "train", 32)


def test_covidnet_preprocess_drops_top_sixth():
    img = np.zeros((60, 40), np.uint8)
    img[:10] = 255
    out = covidnet_preprocess(img, 16)
    assert out.shape == (16, 16) and out.max() == 0.0


def test_synthetic_splits_differ_and_say_synthetic():
    train, test = covidx_splits(None, 32, 6, 6, seed=0)
    assert train.is_synthetic and "synthetic" in test.source
    assert not torch.equal(train.images, test.images)
    assert synthetic_covidx(6, 32, 0).images.equal(train.images)


@pytest.mark.realdata
def test_real_covidx_split_files_parse(covidx_sample):
    counts = {}
    for path in sorted((covidx_sample / "covidx-splits").glob("*.txt")):
        entries = read_split_file(path)
        assert all(e.filename.lower().endswith((".png", ".jpg", ".jpeg")) for e in entries)
        counts[path.name] = len(entries)
    assert counts["train_COVIDx7A.txt"] == 15111           # includes the 5-token lines
    v7 = read_split_file(covidx_sample / "covidx-splits" / "train_COVIDx7A.txt")
    assert any(" " in e.patient_id for e in v7)


@pytest.mark.realdata
def test_real_covidx_sample_loads(covidx_sample):
    train, test = covidx_splits(str(covidx_sample), 64, 0, 0, 0)
    assert len(train) + len(test) == 187
    assert train.images.dtype == torch.uint8 and train.images.shape[1:] == (1, 64, 64)
    assert set(test.targets.tolist()) <= {1, 2}            # the sample's test holds no normal image

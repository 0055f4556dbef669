"""NIH ChestX-ray14 loader, on small files written in the real Data_Entry_2017.csv format."""
import numpy as np
import pytest
import torch
from PIL import Image

from medadv_lib.data.chestxray14 import (CHESTXRAY14_FINDINGS, chestxray14_splits, patient_split,
                                         read_data_entry)
from medadv_lib.data.datasets import DataFileError

HEADER = ("Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
          "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y]")
ROWS = [  # name, findings, patient
    ("00000001_000.png", "Cardiomegaly", "1"),
    ("00000001_001.png", "Cardiomegaly|Emphysema", "1"),
    ("00000002_000.png", "No Finding", "2"),
    ("00000003_000.png", "Hernia|Infiltration|Mass", "3"),
    ("00000004_000.png", "No Finding", "4"),
    ("00000005_000.png", "Effusion", "5"),
    ("00000005_001.png", "No Finding", "5"),
    ("00000006_000.png", "Pleural_Thickening", "6"),
]


def write_dataset(root, rows=ROWS, header=HEADER, official=None):
    (root / "images").mkdir(parents=True)
    lines = [header]
    for k, (name, findings, patient) in enumerate(rows):
        lines.append(f"{name},{findings},{k},{patient},58,M,PA,2682,2749,0.143,0.143")
        pixels = np.full((40, 48), 20 * k, np.uint8)
        Image.fromarray(pixels).save(root / "images" / name)
    (root / "Data_Entry_2017.csv").write_text("\n".join(lines) + "\n")
    if official:
        (root / "train_val_list.txt").write_text("\n".join(official[0]) + "\n")
        (root / "test_list.txt").write_text("\n".join(official[1]) + "\n")
    return root


def test_parses_pipe_separated_findings_and_no_finding(tmp_path):
    rows = read_data_entry(write_dataset(tmp_path) / "Data_Entry_2017.csv")
    assert len(rows) == len(ROWS)
    by_name = {r["Image Index"]: r["labels"] for r in rows}
    two = by_name["00000001_001.png"]
    assert two[CHESTXRAY14_FINDINGS.index("Cardiomegaly")] == 1 and two[CHESTXRAY14_FINDINGS.index("Emphysema")] == 1
    assert sum(two) == 2
    assert sum(by_name["00000003_000.png"]) == 3
    assert sum(by_name["00000002_000.png"]) == 0  # No Finding: all zero
    # the bracketed header columns with commas inside are read as the real file's columns
    assert rows[0]["Patient ID"] == "1" and rows[0]["View Position"] == "PA"


def test_binary_task_and_patient_disjoint_split(tmp_path):
    root = write_dataset(tmp_path)
    train, test = chestxray14_splits(str(root), 32, 0, 0, seed=3, task="binary", test_fraction=0.4)
    assert len(train) + len(test) == len(ROWS)
    patient = {name: p for name, _, p in ROWS}
    assert not {patient[i] for i in train.ids} & {patient[i] for i in test.ids}
    finding = {name: int(f != "No Finding") for name, f, _ in ROWS}
    for ds in (train, test):
        assert ds.class_names == ["No Finding", "Finding"]
        assert ds.targets.dtype == torch.int64
        assert ds.targets.tolist() == [finding[i] for i in ds.ids]
        assert ds.images.shape[1:] == (1, 32, 32) and not ds.is_synthetic


def test_patient_split_keeps_every_patient_on_one_side():
    rows = [{"Patient ID": str(k // 3), "Image Index": f"{k}.png"} for k in range(60)]
    train, test = patient_split(rows, 0.25, seed=0)
    assert len(train) + len(test) == 60
    assert not {r["Patient ID"] for r in train} & {r["Patient ID"] for r in test}
    assert len({r["Patient ID"] for r in test}) == 5


def test_official_lists_define_the_split(tmp_path):
    train_names = [r[0] for r in ROWS[:5]]
    test_names = [r[0] for r in ROWS[5:]]
    root = write_dataset(tmp_path, official=(train_names, test_names))
    train, test = chestxray14_splits(str(root), 32, 0, 0, seed=0, task="multilabel")
    assert train.ids == train_names and test.ids == test_names
    assert train.targets.shape == (5, 14)


def test_caps_sizes(tmp_path):
    root = write_dataset(tmp_path)
    train, test = chestxray14_splits(str(root), 32, 2, 1, seed=0, task="binary", test_fraction=0.4)
    assert len(train) == 2 and len(test) == 1


def test_missing_file_and_column_errors(tmp_path):
    with pytest.raises(DataFileError, match="not found"):
        read_data_entry(tmp_path / "Data_Entry_2017.csv")
    (tmp_path / "Data_Entry_2017.csv").write_text("Image Index,Labels\nx.png,Mass\n")
    with pytest.raises(DataFileError, match="Finding Labels"):
        read_data_entry(tmp_path / "Data_Entry_2017.csv")


def test_unknown_finding_and_missing_image_errors(tmp_path):
    root = write_dataset(tmp_path / "a", rows=[("x.png", "Mass|Flu", "1"), ("y.png", "No Finding", "2")])
    with pytest.raises(DataFileError, match="Flu"):
        read_data_entry(root / "Data_Entry_2017.csv")
    root = write_dataset(tmp_path / "b", rows=ROWS[:4])
    (root / "images" / ROWS[2][0]).unlink()
    with pytest.raises(DataFileError, match=ROWS[2][0]):
        chestxray14_splits(str(root), 32, 0, 0, seed=0, task="binary", test_fraction=0.5)


def test_synthetic_twin_binary():
    train, test = chestxray14_splits(None, 32, 6, 4, seed=0, task="binary")
    assert train.is_synthetic and len(train) == 6 and len(test) == 4
    assert set(train.targets.tolist()) <= {0, 1}

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from medadv_lib.data.ct import ct_lung_splits, ct_slices, find_ct_pairs
from medadv_lib.data.datasets import DataFileError
from medadv_lib.data.fundus import DR_GRADES, aptos_splits, fundus_images


def test_synthetic_fundus_shapes_determinism_and_grade_signal():
    x, y = fundus_images(20, 32, 0)
    assert x.shape == (20, 3, 32, 32) and x.min() >= 0 and x.max() <= 1
    x2, y2 = fundus_images(20, 32, 0)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert set(y.tolist()) == set(range(5))
    train, test = aptos_splits("", 32, 10, 5, 0)
    assert train.is_synthetic and train.class_names == DR_GRADES and len(test) == 5


def test_synthetic_ct_slices():
    x, m = ct_slices(4, 32, 0)
    assert x.shape == (4, 1, 32, 32) and m.shape == (4, 32, 32) and m.dtype == np.int64
    assert 0.02 < m.mean() < 0.5
    assert x[:, 0][m == 1].mean() < x[:, 0][m == 0].mean()


def test_aptos_loader(tmp_path):
    (tmp_path / "train_images").mkdir()
    rows = ["id_code,diagnosis"]
    for i in range(6):
        rgb = np.zeros((40, 50, 3), np.uint8)
        rgb[5:35, 10:40] = 120 + i
        Image.fromarray(rgb).save(tmp_path / "train_images" / f"img{i}.png")
        rows.append(f"img{i},{i % 5}")
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    train, test = aptos_splits(str(tmp_path), 32, 0, 2, seed=0)
    assert len(train) == 4 and len(test) == 2 and train.images.shape[1:] == (3, 32, 32)
    assert not train.is_synthetic and set(train.ids).isdisjoint(test.ids)
    (tmp_path / "train.csv").write_text("id_code,diagnosis\nimg0,7\n")
    with pytest.raises(DataFileError, match="grade"):
        aptos_splits(str(tmp_path), 32, 0, 1, 0)


def test_ct_nifti_loader(tmp_path):
    (tmp_path / "scans").mkdir()
    (tmp_path / "masks").mkdir()
    for v in range(3):
        hu = np.full((40, 40, 6), 40.0, np.float32)
        mask = np.zeros((40, 40, 6), np.uint8)
        mask[8:20, 10:30, 1:5] = 1
        mask[22:34, 10:30, 1:5] = 2
        hu[mask > 0] = -850
        nib.save(nib.Nifti1Image(hu, np.eye(4)), tmp_path / "scans" / f"case{v}.nii.gz")
        nib.save(nib.Nifti1Image(mask, np.eye(4)), tmp_path / "masks" / f"case{v}.nii.gz")
    assert len(find_ct_pairs(tmp_path)) == 3
    train, test = ct_lung_splits(str(tmp_path), 32, 5, 3, 0)
    assert train.targets.shape[1:] == (32, 32) and set(train.targets.unique().tolist()) == {0, 1}
    assert len(test) == 3 and {i.split(":")[0] for i in train.ids}.isdisjoint({i.split(":")[0] for i in test.ids})
    lung = train.images[:, 0][train.targets == 1].mean()
    assert lung < train.images[:, 0][train.targets == 0].mean()
    with pytest.raises(DataFileError):
        find_ct_pairs(tmp_path / "scans")

"""Axial chest CT slices with lung masks: synthetic generator and a NIfTI volume loader.

SMIA (Qi et al., ICLR 2021) attacks lung segmentation on the COVID-19 CT lung and infection
segmentation data (Ma et al. 2020: ``COVID-19-CT-Seg_20cases/*.nii.gz`` scans and
``Lung_Mask/*.nii.gz`` masks, left lung 1, right lung 2). Our target is binary: lung (any lung
label) against everything else.

Synthetic slices are drawn in Hounsfield units (air -1000, aerated lung about -850, soft tissue
about 40, fat -100, bone 700) and mapped to [0, 1] with the lung window (level -600, width 1500),
the same windowing the real loader applies. Each slice has a body outline with a fat layer, two
lungs whose shape varies with the slice level, the mediastinum and heart, the spine, airways,
vessels inside the lungs and, optionally, COVID-19-like ground-glass and consolidation lesions
(which belong to the lung mask, as in the real masks, and make segmentation harder).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from ..progress import tqdm

from .datasets import DataFileError, ImageDataset, read_grayscale
from .synthetic import Canvas, check_size, image_rng

__all__ = ["LUNG_CLASSES", "INFECTION_CLASSES", "hu_window", "ct_slice", "ct_slices", "synthetic_ct",
           "find_ct_pairs", "load_ct_volumes", "ct_lung_splits", "ct_folder_pairs", "check_ct_folders",
           "load_ct_folder", "ct_infection_splits"]

LUNG_CLASSES = ["background", "lung"]
INFECTION_CLASSES = ["background", "infection"]
LUNG_WINDOW = (-600.0, 1500.0)  # level, width in HU


def hu_window(hu: np.ndarray, level: float = LUNG_WINDOW[0], width: float = LUNG_WINDOW[1]) -> np.ndarray:
    """Map Hounsfield units to [0, 1] with a window of ``level`` and ``width``."""
    return np.clip((hu - (level - width / 2)) / width, 0, 1).astype(np.float32)


def ct_slice(size: int, seed: int, index: int, lesion_probability: float = 0.5
             ) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic axial slice ``index``: (windowed image (H, W) in [0, 1], lung mask (H, W) int64)."""
    rng = image_rng(seed, "ct-lung", index)
    c = Canvas.of(size)
    level = rng.uniform(0, 1)                               # 0: apex ... 1: base of the lungs
    body_rx, body_ry = rng.uniform(0.82, 0.92), rng.uniform(0.6, 0.7)
    body = c.ellipse(0.05, 0, body_ry, body_rx, soft=0.02)
    inner = c.ellipse(0.05, 0, body_ry - 0.06, body_rx - 0.06, soft=0.05)
    hu = np.full((size, size), -1000.0, np.float32)        # air around the patient
    hu = hu + body * 1040 - (body - inner).clip(0) * 140   # soft tissue, subcutaneous fat
    hu = hu + 25 * c.smooth_noise(rng, 10) * inner

    lung_size = 0.45 + 0.55 * np.sin(np.pi * (0.15 + 0.75 * level))  # small at apex and base
    lungs = np.zeros((size, size), np.float32)
    for side in (-1, 1):
        ry = rng.uniform(0.38, 0.46) * lung_size
        rx = rng.uniform(0.26, 0.32) * lung_size
        cx = side * (rng.uniform(0.33, 0.4) + 0.05 * lung_size)
        shape = c.ellipse(rng.uniform(-0.02, 0.06), cx, ry, rx, soft=0.04)
        # the mediastinal side is flattened by the heart, more so at the base
        notch = c.ellipse(0.18, side * 0.12, 0.22 + 0.15 * level, 0.16 + 0.1 * level, soft=0.05)
        lungs = np.maximum(lungs, np.clip(shape - notch, 0, 1))
    lungs = lungs * inner
    lesion = np.zeros_like(lungs)
    if rng.random() < lesion_probability:
        for _ in range(rng.integers(1, 5)):
            ys, xs = np.nonzero(lungs > 0.5)
            if len(ys) == 0:
                break
            k = rng.integers(len(ys))
            cy, cx = c.y[ys[k], xs[k]], c.x[ys[k], xs[k]]
            lesion = np.maximum(lesion, c.blob(cy, cx, rng.uniform(0.04, 0.1))
                                * (0.6 + 0.4 * c.smooth_noise(rng, 16)))
        lesion = np.clip(lesion, 0, 1) * lungs
    lung_hu = -860 + 40 * c.smooth_noise(rng, 30) + lesion * rng.uniform(350, 750)
    hu = hu * (1 - lungs) + lung_hu * lungs
    vessels = np.clip((c.smooth_noise(rng, max(8, size // 5)) - 0.45) * 4, 0, 1) * lungs
    hu = hu + vessels * 600
    hu = np.where((c.ellipse(0.12, 0.02, 0.2, 0.22, soft=0.05) > 0.5) & (lungs < 0.5),
                  40 + 15 * rng.standard_normal(), hu)     # heart / mediastinum
    spine = c.ellipse(0.52, 0, 0.1, 0.09, soft=0.1)
    hu = hu * (1 - spine) + spine * (700 - 400 * c.ellipse(0.52, 0, 0.06, 0.05, soft=0.1))
    airway_x = rng.uniform(-0.03, 0.03)
    if level < 0.45:                                        # trachea
        hu = np.where(c.ellipse(-0.05, airway_x, 0.05, 0.055, soft=0.05) > 0.5, -1000, hu)
    else:                                                   # main bronchi
        for side in (-1, 1):
            hu = np.where(c.ellipse(0.0, airway_x + side * 0.12, 0.03, 0.035, soft=0.05) > 0.5, -1000, hu)
    hu = hu + rng.normal(0, rng.uniform(10, 30), hu.shape).astype(np.float32)
    mask = (lungs > 0.5).astype(np.int64)
    return hu_window(hu), mask


def ct_slices(n: int, image_size: int, seed: int, lesion_probability: float = 0.5
              ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` synthetic slices (N, 1, H, W) float32 in [0, 1] and lung masks (N, H, W) int64."""
    check_size(image_size)
    if n < 1:
        raise ValueError(f"need at least one slice, got n={n}")
    if not 0 <= lesion_probability <= 1:
        raise ValueError(f"lesion_probability must be in [0, 1], got {lesion_probability}")
    pairs = [ct_slice(image_size, seed, i, lesion_probability) for i in range(n)]
    return np.stack([p[0] for p in pairs])[:, None], np.stack([p[1] for p in pairs])


def synthetic_ct(n: int, image_size: int, seed: int, split: str = "train",
                 lesion_probability: float = 0.5) -> ImageDataset:
    offset = {"train": 0, "test": 1_000_003, "val": 2_000_003}[split]
    images, masks = ct_slices(n, image_size, seed + offset, lesion_probability)
    return ImageDataset(torch.from_numpy(images), torch.from_numpy(masks), list(LUNG_CLASSES),
                        f"synthetic chest CT slices with lung masks (medadv generator, seed {seed}, {split})",
                        [f"syn-ct-{split}-{i}" for i in range(n)])


# ---------------------------------------------------------------------------------------------
# Real data: NIfTI scans and lung masks
# ---------------------------------------------------------------------------------------------
_LAYOUTS = (("COVID-19-CT-Seg_20cases", "Lung_Mask"), ("scans", "masks"), ("images", "masks"),
            ("ct", "lung_mask"), ("imagesTr", "labelsTr"))


def _stem(path: Path) -> str:
    name = path.name
    return name[:-7] if name.endswith(".nii.gz") else name[:-4] if name.endswith(".nii") else name


def find_ct_pairs(data_root: str | Path) -> list[tuple[Path, Path]]:
    """(scan, lung mask) NIfTI pairs matched by file name, from the first known folder layout."""
    root = Path(data_root)
    if not root.is_dir():
        raise DataFileError(f"CT data root is not a directory: {root}")
    for scans_dir, masks_dir in _LAYOUTS:
        if (root / scans_dir).is_dir() and (root / masks_dir).is_dir():
            scans = {_stem(p): p for p in sorted((root / scans_dir).glob("*.nii*"))}
            masks = {_stem(p): p for p in sorted((root / masks_dir).glob("*.nii*"))}
            common = sorted(set(scans) & set(masks))
            if not common:
                raise DataFileError(f"{root}: no scan in {scans_dir}/ has a mask of the same name in "
                                    f"{masks_dir}/")
            return [(scans[k], masks[k]) for k in common]
    raise DataFileError(f"{root}: expected NIfTI scans and lung masks in one of the folder pairs "
                        + ", ".join(f"{a}/ + {b}/" for a, b in _LAYOUTS))


def _read_nifti(path: Path) -> np.ndarray:
    import nibabel as nib  # local import: only the real loader needs it

    try:
        data = np.asarray(nib.load(str(path)).dataobj, dtype=np.float32)
    except Exception as exc:  # nibabel raises several unrelated types for bad files
        raise DataFileError(f"cannot read NIfTI file {path}: {exc}") from exc
    if data.ndim != 3:
        raise DataFileError(f"{path}: expected a 3-D volume, got shape {data.shape}")
    return data


def _to_unit(volume: np.ndarray) -> np.ndarray:
    """HU volumes get the lung window; volumes already scaled to 0-255 (some Radiopaedia cases
    of the data set) are rescaled by their range."""
    if volume.min() >= 0 and volume.max() <= 255:
        return (volume / 255.0).astype(np.float32)
    return hu_window(volume)


def _resize(slice_: np.ndarray, size: int, mode: str) -> np.ndarray:
    t = torch.from_numpy(np.ascontiguousarray(slice_, dtype=np.float32))[None, None]
    kwargs = {"align_corners": False} if mode == "bilinear" else {}
    return F.interpolate(t, size=(size, size), mode=mode, **kwargs)[0, 0].numpy()


def load_ct_volumes(pairs: list[tuple[Path, Path]], image_size: int, n_slices: int, seed: int,
                    min_lung_fraction: float = 0.01, source: str = "") -> ImageDataset:
    """``n_slices`` axial slices sampled (seeded, spread over volumes) among the slices of
    ``pairs`` whose lung covers at least ``min_lung_fraction`` of the slice; resized to
    ``image_size`` (bilinear image, nearest mask), shown in radiological orientation."""
    check_size(image_size)
    candidates, volumes = [], []
    for v, (scan_path, mask_path) in enumerate(tqdm(pairs, desc="CT volumes", leave=False)):
        scan, mask = _read_nifti(scan_path), _read_nifti(mask_path)
        if scan.shape != mask.shape:
            raise DataFileError(f"{scan_path} has shape {scan.shape} but its mask {mask_path} has {mask.shape}")
        lung = (mask > 0).mean(axis=(0, 1))
        candidates += [(v, z) for z in np.nonzero(lung >= min_lung_fraction)[0]]
        volumes.append((_to_unit(scan), (mask > 0)))
    if not candidates:
        raise DataFileError("no slice with lung in the given CT volumes")
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(candidates), size=min(n_slices, len(candidates)), replace=False)
    images, masks, ids = [], [], []
    for k in sorted(pick):
        v, z = candidates[k]
        image, mask = volumes[v][0][:, :, z], volumes[v][1][:, :, z]
        images.append(_resize(np.rot90(image), image_size, "bilinear"))
        masks.append(_resize(np.rot90(mask).astype(np.float32), image_size, "nearest") > 0.5)
        ids.append(f"{_stem(pairs[v][0])}:{z}")
    return ImageDataset(torch.from_numpy(np.stack(images)[:, None].clip(0, 1)),
                        torch.from_numpy(np.stack(masks).astype(np.int64)), list(LUNG_CLASSES),
                        source or f"COVID-19 CT lung segmentation volumes from {pairs[0][0].parent.parent.name}/",
                        ids)


def ct_lung_splits(data_root: str | None, image_size: int, n_train: int, n_test: int, seed: int
                   ) -> tuple[ImageDataset, ImageDataset]:
    """(train, test) lung segmentation slices: real NIfTI volumes when ``data_root`` is given
    (split by volume, so no patient is in both; about a fifth of the volumes, at least one, are
    held out), else synthetic slices."""
    if not data_root:
        return (synthetic_ct(n_train, image_size, seed, "train"),
                synthetic_ct(n_test, image_size, seed, "test"))
    pairs = find_ct_pairs(data_root)
    if len(pairs) < 2:
        raise DataFileError(f"{data_root}: need at least two volumes to split train and test by patient")
    order = np.random.default_rng(seed).permutation(len(pairs))
    n_test_volumes = max(1, len(pairs) // 5)
    test_pairs = [pairs[i] for i in order[:n_test_volumes]]
    train_pairs = [pairs[i] for i in order[n_test_volumes:]]
    root = Path(data_root)
    return (load_ct_volumes(train_pairs, image_size, n_train, seed, source=f"COVID-19 CT lung volumes from {root.name}/ (train)"),
            load_ct_volumes(test_pairs, image_size, n_test, seed + 1, source=f"COVID-19 CT lung volumes from {root.name}/ (test)"))


# ---------------------------------------------------------------------------------------------
# Real data: image/mask folder pairs (COVID-19 CT infection segmentation, Inf-Net crops)
# ---------------------------------------------------------------------------------------------
INFECTION_SOURCE = ("COVID-19 CT slices with INFECTION masks (MedSeg, Inf-Net crops): the SMIA paper "
                    "segments lungs, not infections")


def ct_folder_pairs(root: str | Path, split: str) -> list[tuple[Path, Path]]:
    """(image, mask) pairs of ``root/<split>/images/N.jpg`` and ``root/<split>/masks/N.png``,
    matched by file stem; an image without its mask (or a mask without its image) is an error."""
    folder = Path(root) / split
    images_dir, masks_dir = folder / "images", folder / "masks"
    if not images_dir.is_dir() or not masks_dir.is_dir():
        raise DataFileError(f"{folder}: expected the folders images/ and masks/")
    images = {p.stem: p for p in images_dir.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")}
    masks = {p.stem: p for p in masks_dir.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg")}
    lonely = sorted(set(images) ^ set(masks))
    if lonely:
        name = lonely[0]
        where = images.get(name) or masks.get(name)
        raise DataFileError(f"{where} has no {'mask' if name in images else 'image'} of the same name")
    if not images:
        raise DataFileError(f"{images_dir}: the {split} split holds no image")
    key = lambda stem: (0, int(stem)) if stem.isdigit() else (1, stem)  # noqa: E731
    return [(images[k], masks[k]) for k in sorted(images, key=key)]


def check_ct_folders(root: str | Path) -> None:
    """Cheap check, no image decoded: both splits present, every image paired with its mask."""
    for split in ("train", "test"):
        ct_folder_pairs(root, split)


def load_ct_folder(root: str | Path, split: str, image_size: int, n: int = 0) -> ImageDataset:
    """Slices and binary masks (mask > 127: infection) of one split, resized to ``image_size``
    (bilinear image, nearest mask); ``n`` > 0 keeps the first ``n`` pairs."""
    check_size(image_size)
    pairs = ct_folder_pairs(root, split)
    pairs = pairs[:n] if n else pairs
    images = np.empty((len(pairs), 1, image_size, image_size), np.float32)
    masks = np.empty((len(pairs), image_size, image_size), np.int64)
    for k, (image_path, mask_path) in enumerate(pairs):
        image, mask = read_grayscale(image_path), read_grayscale(mask_path)
        if image.shape != mask.shape:
            raise DataFileError(f"{image_path} is {image.shape} but its mask {mask_path} is {mask.shape}")
        images[k, 0] = _resize(image / 255.0, image_size, "bilinear")
        masks[k] = _resize((mask > 127).astype(np.float32), image_size, "nearest") > 0.5
    return ImageDataset(torch.from_numpy(images.clip(0, 1)), torch.from_numpy(masks), list(INFECTION_CLASSES),
                        f"{INFECTION_SOURCE} ({split}, {len(pairs)} slices) from {Path(root).name}/",
                        [f"{split}/{p.name}" for p, _ in pairs])


def ct_infection_splits(root: str | Path, image_size: int, n_train: int, n_test: int, seed: int = 0
                        ) -> tuple[ImageDataset, ImageDataset]:
    """(train, test): the official folders (50 and 48 slices in ``covid-ct-infection``)."""
    return load_ct_folder(root, "train", image_size, n_train), load_ct_folder(root, "test", image_size, n_test)

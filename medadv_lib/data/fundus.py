"""Diabetic-retinopathy fundus photographs: synthetic generator and the real APTOS-2019 loader.

SMIA (Qi et al., ICLR 2021) grades diabetic retinopathy in five grades on APTOS 2019 (Kaggle
"APTOS 2019 Blindness Detection": ``train.csv`` with columns ``id_code,diagnosis`` and the
photographs ``train_images/<id_code>.png``). No dataset can be downloaded here, so the default is
a synthetic twin drawn with the helpers of :mod:`medadv_lib.data.synthetic`:

* a circular field of view on black, orange-red background with uneven illumination;
* the optic disc (bright yellow) on one side, the dark macula at the centre, vessel arcades
  leaving the disc;
* grade-dependent lesions following the international DR scale: microaneurysms (tiny dark red
  dots, from grade 1), haemorrhages (larger dark red blots) and hard exudates (yellow specks)
  increasing with the grade, neovascularisation (fine tortuous vessels at the disc) in grade 4.

Lesion counts are Poisson draws from a *latent* severity ``grade + U(-0.7, 0.7)``, so neighbouring
grades overlap and a classifier can be good but not perfect, as in the real task.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from scipy import ndimage
from ..progress import tqdm

from .datasets import DataFileError, ImageDataset
from .synthetic import Canvas, check_size, image_rng

__all__ = ["DR_GRADES", "fundus_image", "fundus_images", "synthetic_fundus", "read_aptos_csv",
           "load_aptos", "aptos_splits"]

DR_GRADES = ["No DR", "Mild", "Moderate", "Severe", "Proliferative DR"]
#: Mean lesion counts per image at latent severity s (the same at every image size).
_LESION_RATE = {
    "microaneurysm": lambda s: 3.0 * s + 1.5 * s**2,
    "haemorrhage": lambda s: 2.0 * max(s - 0.8, 0) ** 1.5,
    "exudate": lambda s: 3.0 * max(s - 1.2, 0) ** 1.3,
}
_RED = np.array([0.62, 0.10, 0.06], np.float32)      # colour a lesion pulls toward
_DARK_RED = np.array([0.35, 0.03, 0.02], np.float32)
_YELLOW = np.array([0.95, 0.85, 0.35], np.float32)


def _dots(c: Canvas, rng: np.random.Generator, n: int, where: np.ndarray, sigma_px: tuple[float, float]
          ) -> np.ndarray:
    """``n`` Gaussian dots at random positions inside ``where`` (a boolean mask), peak about 1."""
    out = np.zeros((c.size, c.size), np.float32)
    ys, xs = np.nonzero(where)
    if n <= 0 or len(ys) == 0:
        return out
    pick = rng.integers(0, len(ys), n)
    for y, x, s in zip(ys[pick], xs[pick], rng.uniform(*sigma_px, n)):
        r = int(np.ceil(3 * s))
        y0, y1, x0, x1 = max(y - r, 0), min(y + r + 1, c.size), max(x - r, 0), min(x + r + 1, c.size)
        yy, xx = np.mgrid[y0:y1, x0:x1]
        out[y0:y1, x0:x1] = np.maximum(out[y0:y1, x0:x1],
                                       np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * s * s)))
    return out


def _curve(c: Canvas, points: np.ndarray, width_px: float) -> np.ndarray:
    """Rasterise a polyline given in normalised (y, x) coordinates as a soft line of ``width_px``."""
    out = np.zeros((c.size, c.size), np.float32)
    dense = []
    for a, b in zip(points[:-1], points[1:]):
        steps = max(2, int(np.hypot(*(b - a)) * c.size))
        dense.append(a + (b - a) * np.linspace(0, 1, steps)[:, None])
    pix = np.round((np.concatenate(dense) + 1) / 2 * c.size - 0.5).astype(int)
    ok = (pix >= 0).all(1) & (pix < c.size).all(1)
    out[pix[ok, 0], pix[ok, 1]] = 1.0
    out = ndimage.gaussian_filter(out, max(width_px, 0.5))
    return np.clip(out / (out.max() + 1e-6), 0, 1)


def _vessels(c: Canvas, rng: np.random.Generator, disc: tuple[float, float], side: int,
             count: int, tortuous: bool = False) -> np.ndarray:
    """Vessel arcades leaving the optic disc: curved random walks toward the other side."""
    out = np.zeros((c.size, c.size), np.float32)
    for k in range(count):
        angle = rng.uniform(-1.3, 1.3) + (0 if side < 0 else np.pi)
        heading = np.array([np.sin(angle), np.cos(angle)])
        pos = np.array(disc, np.float64)
        pts = [pos.copy()]
        turn = rng.uniform(-0.15, 0.15)
        length = rng.uniform(0.5, 1.2) if not tortuous else rng.uniform(0.1, 0.25)
        step = 0.04 if not tortuous else 0.012
        for _ in range(int(length / step)):
            jitter = rng.normal(0, 0.5 if tortuous else 0.08)
            rot = turn + jitter
            heading = np.array([heading[0] * np.cos(rot) - heading[1] * np.sin(rot),
                                heading[0] * np.sin(rot) + heading[1] * np.cos(rot)])
            pos = pos + step * heading
            pts.append(pos.copy())
        width = c.size / 256 * (rng.uniform(1.0, 2.2) if not tortuous else 0.6)
        out = np.maximum(out, _curve(c, np.array(pts), width) * (0.6 if tortuous else 1.0))
    return out


def fundus_image(size: int, seed: int, index: int, grade: int) -> np.ndarray:
    """Synthetic fundus photograph ``index`` of DR ``grade`` (0-4): (3, H, W) float32 in [0, 1]."""
    if grade not in range(len(DR_GRADES)):
        raise ValueError(f"grade must be in 0..{len(DR_GRADES) - 1}, got {grade}")
    rng = image_rng(seed, "fundus", index)
    c = Canvas.of(size)
    severity = max(grade + rng.uniform(-0.7, 0.7), 0.0)
    field_of_view = c.ellipse(0, 0, 0.96, 0.96, soft=0.03)
    side = rng.choice([-1, 1])                          # left or right eye: disc position
    disc = (rng.uniform(-0.08, 0.08), side * rng.uniform(0.38, 0.48))
    disc_r = rng.uniform(0.09, 0.12)

    base = np.array([rng.uniform(0.72, 0.85), rng.uniform(0.28, 0.38), rng.uniform(0.10, 0.18)],
                    np.float32)
    shade = 0.8 + 0.2 * c.smooth_noise(rng, 4) - 0.25 * (c.x**2 + c.y**2)
    img = base[:, None, None] * shade[None]
    macula = c.blob(rng.uniform(-0.05, 0.05), -side * rng.uniform(0.0, 0.06), 0.12)
    img = img * (1 - 0.35 * macula)[None]
    vessels = _vessels(c, rng, disc, side, int(rng.integers(5, 8)))
    img = img * (1 - 0.45 * vessels)[None] + 0.12 * vessels[None] * _DARK_RED[:, None, None]
    optic = c.ellipse(disc[0], disc[1], disc_r * 1.1, disc_r, soft=0.3)
    img = img + optic[None] * (_YELLOW[:, None, None] - img) * 0.85
    img = img * (1 - 0.3 * c.ellipse(disc[0], disc[1], disc_r * 0.4, disc_r * 0.35, soft=0.5))[None] \
        + 0.3 * c.ellipse(disc[0], disc[1], disc_r * 0.4, disc_r * 0.35, soft=0.5)[None]

    retina = (field_of_view > 0.5) & (optic < 0.2)
    px = size / 256
    counts = {k: rng.poisson(rate(severity) + 1e-9) for k, rate in _LESION_RATE.items()}
    micro = _dots(c, rng, counts["microaneurysm"], retina, (0.8 * px + 0.5, 1.4 * px + 0.6))
    haem = _dots(c, rng, counts["haemorrhage"], retina, (2.5 * px + 0.8, 5 * px + 1.0))
    exud = _dots(c, rng, counts["exudate"], retina, (1.0 * px + 0.5, 2.5 * px + 0.7))
    for layer, colour, strength in ((micro, _RED, 0.9), (haem, _DARK_RED, 0.85), (exud, _YELLOW, 0.8)):
        img = img + strength * layer[None] * (colour[:, None, None] - img)
    if grade == 4:
        neo = _vessels(c, rng, disc, side, int(rng.integers(2, 6)), tortuous=True)
        img = img + 0.6 * neo[None] * (_RED[:, None, None] - img)
    img = img * (0.9 + 0.2 * rng.random()) + rng.normal(0, 0.02, img.shape).astype(np.float32)
    return np.clip(img * field_of_view[None], 0, 1).astype(np.float32)


def fundus_labels(n: int, seed: int) -> np.ndarray:
    """Balanced grades in a seeded random order."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 5]))
    return rng.permutation(np.arange(n) % len(DR_GRADES))


def fundus_images(n: int, image_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` synthetic fundus photographs (N, 3, H, W) float32 in [0, 1] and grades (N,)."""
    check_size(image_size)
    if n < 1:
        raise ValueError(f"need at least one image, got n={n}")
    labels = fundus_labels(n, seed)
    images = np.stack([fundus_image(image_size, seed, i, int(g)) for i, g in enumerate(labels)])
    return images, labels.astype(np.int64)


def synthetic_fundus(n: int, image_size: int, seed: int, split: str = "train") -> ImageDataset:
    offset = {"train": 0, "test": 1_000_003, "val": 2_000_003}[split]
    images, labels = fundus_images(n, image_size, seed + offset)
    return ImageDataset(torch.from_numpy(images), torch.from_numpy(labels), list(DR_GRADES),
                        f"synthetic fundus photographs (medadv generator, seed {seed}, {split})",
                        [f"syn-fundus-{split}-{i}" for i in range(n)])


# ---------------------------------------------------------------------------------------------
# Real data: APTOS 2019
# ---------------------------------------------------------------------------------------------
def read_aptos_csv(path: str | Path) -> list[tuple[str, int]]:
    """``(id_code, diagnosis)`` rows of an APTOS ``train.csv``; grades must be 0-4."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"APTOS label file not found: {path}")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"id_code", "diagnosis"} <= set(reader.fieldnames):
            raise DataFileError(f"{path}: expected the columns id_code,diagnosis, got {reader.fieldnames}")
        rows = []
        for number, row in enumerate(reader, 2):
            try:
                grade = int(row["diagnosis"])
            except (TypeError, ValueError):
                raise DataFileError(f"{path}:{number}: diagnosis {row['diagnosis']!r} is not an integer") from None
            if grade not in range(len(DR_GRADES)):
                raise DataFileError(f"{path}:{number}: diagnosis {grade} is not a DR grade 0-4")
            rows.append((row["id_code"].strip(), grade))
    if not rows:
        raise DataFileError(f"APTOS label file is empty: {path}")
    return rows


def _aptos_image_path(root: Path, id_code: str) -> Path:
    for folder in ("train_images", "images", "."):
        for ext in (".png", ".jpg", ".jpeg"):
            candidate = root / folder / f"{id_code}{ext}"
            if candidate.is_file():
                return candidate
    raise DataFileError(f"image for id_code {id_code!r} not found under {root} "
                        f"(looked for train_images/{id_code}.png and images/{id_code}.png)")


def read_fundus(path: Path, image_size: int) -> np.ndarray:
    """RGB photograph cropped to its field of view (non-black rows/columns), squared, resized."""
    try:
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DataFileError(f"cannot read image {path}: {exc}") from exc
    bright = rgb.max(2) > 10
    rows, cols = np.nonzero(bright.any(1))[0], np.nonzero(bright.any(0))[0]
    if len(rows) and len(cols):
        rgb = rgb[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = rgb.shape[:2]
    side = max(h, w)
    square = np.zeros((side, side, 3), np.uint8)
    square[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w] = rgb
    return np.asarray(Image.fromarray(square).resize((image_size, image_size), Image.BILINEAR))


def load_aptos(data_root: str | Path, image_size: int, limit: int | None = None,
               indices: list[int] | None = None) -> ImageDataset:
    """Real APTOS-2019 photographs listed in ``train.csv`` as a uint8 (N, 3, H, W) dataset."""
    root = Path(data_root)
    if not root.is_dir():
        raise DataFileError(f"APTOS data_root is not a directory: {root}")
    check_size(image_size)
    rows = read_aptos_csv(root / "train.csv")
    if indices is not None:
        rows = [rows[i] for i in indices]
    if limit:
        rows = rows[:limit]
    paths = [_aptos_image_path(root, id_code) for id_code, _ in rows]  # fail before reading
    images = np.empty((len(rows), 3, image_size, image_size), np.uint8)
    for k, path in enumerate(tqdm(paths, desc="APTOS", leave=False)):
        images[k] = read_fundus(path, image_size).transpose(2, 0, 1)
    return ImageDataset(torch.from_numpy(images), torch.tensor([g for _, g in rows], dtype=torch.long),
                        list(DR_GRADES), f"APTOS 2019 fundus photographs from {root.name}/",
                        [i for i, _ in rows])


def aptos_splits(data_root: str | None, image_size: int, n_train: int, n_test: int, seed: int
                 ) -> tuple[ImageDataset, ImageDataset]:
    """(train, test) for 5-grade DR classification: APTOS when ``data_root`` is set, else synthetic.

    APTOS publishes labels for its training set only, so the real split is a seeded random split
    of ``train.csv`` (``n_test`` images held out, then ``n_train`` images; 0 for all the rest).
    """
    if not data_root:
        return (synthetic_fundus(n_train, image_size, seed, "train"),
                synthetic_fundus(n_test, image_size, seed, "test"))
    rows = read_aptos_csv(Path(data_root) / "train.csv")
    if n_test < 1 or n_test >= len(rows):
        raise DataFileError(f"n_test must be in [1, {len(rows) - 1}] for {len(rows)} labelled images")
    order = np.random.default_rng(seed).permutation(len(rows)).tolist()
    test_idx = order[:n_test]
    train_idx = order[n_test:n_test + n_train] if n_train else order[n_test:]
    return (load_aptos(data_root, image_size, indices=train_idx),
            load_aptos(data_root, image_size, indices=test_idx))

"""The datasets of the collection by name: the synthetic default and the real datasets a chapter can run on.

Torch-free at import (``medadv list`` and the parameter checks that run before a notebook starts
use it): every entry names its loader and its cheap check as ``module:function`` and imports them
only when called. For each dataset: the task, the classes, the folder name it has in
``../shared/data/`` (and the names users' downloads have), the attribution to print wherever its
numbers appear, and what a run on it is not.

* ``check(root)``: finds what can be found without decoding an image (a missing label file, a wrong
  header, an unknown label, an image listed in a split that is not on disk, an empty split) and
  raises :class:`~medadv_lib.data.errors.DataFileError` naming the file;
* ``load(root, image_size, n_train, n_test, seed, **task_options)``: ``(train, test)`` ImageDatasets.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path

from .errors import DataFileError

__all__ = ["Dataset", "DATASETS", "get_dataset", "find_data", "attribution", "resolve_root"]


#: The project's root folder: a rendered notebook shows its ``data_root`` relative to it.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def resolve_root(root: str | Path) -> Path:
    """A data folder as given (``~`` expanded); a relative one that is not found from the working
    directory is read from the project root, where rendered notebooks show it (so an executed
    notebook re-runs anywhere: ``book/notebooks/``, the goldens of ``tests/notebooks/``)."""
    root = Path(str(root)).expanduser()
    if not root.is_absolute() and not root.exists() and (PROJECT_ROOT / root).exists():
        return PROJECT_ROOT / root
    return root


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    task: str                        # binary | multiclass | multilabel | segmentation
    classes: tuple[str, ...]
    channels: int
    folders: tuple[str, ...]         # folder names under a data directory (../shared/data first)
    attribution: str
    caveat: str                      # what a run on it is not
    loader: str = ""                 # "module:function" in medadv_lib.data
    checker: str = ""
    options: dict = field(default_factory=dict)   # fixed keyword arguments of the loader and the check

    @property
    def synthetic(self) -> bool:
        return self.name == "synthetic"

    def _call(self, target: str, *args, **kwargs):
        module, function = target.split(":")
        return getattr(import_module(f"medadv_lib.data.{module}"), function)(*args, **kwargs)

    def check(self, root: str | Path) -> None:
        if self.synthetic:
            return
        root = resolve_root(root)
        if not root.is_dir():
            raise DataFileError(f"{self.title}: data folder not found: {root}")
        self._call(self.checker, root, **self.options)

    def load(self, root, image_size: int, n_train: int, n_test: int, seed: int, **task_options):
        if self.synthetic:
            raise ValueError("the synthetic default is drawn by each chapter's own generator")
        return self._call(self.loader, resolve_root(root), image_size, n_train, n_test, seed, **{**self.options, **task_options})


_NIH = ("NIH Clinical Center. X. Wang, Y. Peng, L. Lu, Z. Lu, M. Bagheri, R. Summers, \"ChestX-ray8: "
        "Hospital-scale Chest X-ray Database and Benchmarks on Weakly-Supervised Classification and "
        "Localization of Common Thorax Diseases\", IEEE CVPR 2017, pp. 3462-3471.")
_KERMANY = ("D. Kermany, K. Zhang, M. Goldbaum (2018), \"Labeled Optical Coherence Tomography (OCT) and "
            "Chest X-Ray Images for Classification\", Mendeley Data v2, doi:10.17632/rscbjbr9sj.2; "
            "Kermany et al., \"Identifying Medical Diagnoses and Treatable Diseases by Image-Based Deep "
            "Learning\", Cell 172(5), 2018. CC BY 4.0.")
_MEDMNIST = ("J. Yang, R. Shi, D. Wei, Z. Liu, L. Zhao, B. Ke, H. Pfister, B. Ni, \"MedMNIST v2 - A "
             "large-scale lightweight benchmark for 2D and 3D biomedical image classification\", "
             "Scientific Data, 2023 (CC BY 4.0).")

DATASETS: dict[str, Dataset] = {d.name: d for d in [
    Dataset("synthetic", "the embedded default", "any", (), 0, (),
            "synthetic images drawn by medadv_lib.data (no attribution needed)",
            "synthetic images, not radiographs: they test whether a method and its claims carry over, "
            "not the paper's result"),
    Dataset("nih-cxr14", "NIH ChestX-ray14", "multilabel",
            ("Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
             "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia"),
            1, ("nih-cxr14-1000", "chestxray14", "ChestX-ray14", "nih-cxr14"), _NIH,
            "the ../shared sample holds 1,000 of ChestX-ray14's 112,120 radiographs at 64 px, with a "
            "patient-disjoint split of its own (not NIH's official lists): rare findings have a handful "
            "of positives", "chestxray14:chestxray14_splits", "chestxray14:check_chestxray14"),
    Dataset("kermany", "Kermany pediatric chest X-rays", "binary", ("normal", "pneumonia"), 1,
            ("kermany-cxr", "chest_xray"), _KERMANY,
            "pediatric patients (one to five years old), normal against pneumonia: not ChestX-ray14, not "
            "COVIDx, and 224 px copies", "kermany:kermany_splits", "kermany:check_kermany"),
    Dataset("pneumoniamnist", "PneumoniaMNIST", "binary", ("normal", "pneumonia"), 1, ("medmnist",),
            _MEDMNIST + " Source images: Kermany et al., Cell 172(5), 2018.",
            "28 px, far below the papers' resolutions (Kermany et al.'s images, MedMNIST's split)",
            "medmnist:medmnist_splits", "medmnist:check_medmnist", {"flag": "pneumoniamnist"}),
    Dataset("retinamnist", "RetinaMNIST", "multiclass", ("grade 0", "grade 1", "grade 2", "grade 3", "grade 4"),
            3, ("medmnist",),
            _MEDMNIST + " Source images: DeepDRiD, R. Liu et al., \"DeepDRiD: Diabetic Retinopathy-Grading and "
            "Image Quality Estimation Challenge\", Patterns 3(6), 2022.",
            "1,600 fundus photographs at 28 px (DeepDRiD), not APTOS-2019 or Kaggle-DR at full size",
            "medmnist:medmnist_splits", "medmnist:check_medmnist", {"flag": "retinamnist"}),
    Dataset("covidx", "COVIDx", "multiclass", ("normal", "pneumonia", "COVID-19"), 1, ("covidx-sample", "covidx"),
            "Images: the COVID-19 image data collection (J. P. Cohen et al.) and the Figure1 COVID chest X-ray "
            "collection, each image under its own licence (CC BY / CC BY-NC-SA); split files: COVID-Net "
            "(L. Wang, Z. Q. Lin, A. Wong, AGPL-3.0).",
            "the ../shared sample holds 187 radiographs, 4 of them normal and none normal in its test split: "
            "a check of the pipeline on real images, never a benchmark", "covidx:covidx_splits",
            "covidx:check_covidx"),
    Dataset("covid-ct-infection", "COVID-19 CT infection segmentation", "segmentation",
            ("background", "infection"), 1, ("covid-ct-infection",),
            "\"COVID-19 CT segmentation dataset\", MedSeg (medicalsegmentation.com/covid19); D.-P. Fan et al., "
            "\"Inf-Net: Automatic COVID-19 Lung Infection Segmentation from CT Images\", IEEE TMI 39(8), 2020. "
            "No licence stated: research and testing only.",
            "98 slices with INFECTION masks: the SMIA paper segments lungs on 20 CT volumes",
            "ct:ct_infection_splits", "ct:check_ct_folders"),
]}


def get_dataset(name: str) -> Dataset:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name]


def find_data(data_dir: str | Path) -> dict[str, Path]:
    """The real datasets found in ``data_dir`` (a folder laid out like ``../shared/data/``): name ->
    its folder. A dataset counts as found when its folder exists (MedMNIST: when its file does)."""
    data_dir = Path(data_dir)
    found = {}
    for name, dataset in DATASETS.items():
        for folder in dataset.folders:
            path = data_dir / folder
            flag = dataset.options.get("flag")
            if path.is_dir() and (flag is None or (path / f"{flag}.npz").is_file()
                                  or any(path.glob(f"{flag}_*.npz"))):
                found[name] = path
                break
    return found


def attribution(name: str) -> str:
    """Markdown naming a dataset, its attribution and what a run on it is not."""
    d = get_dataset(name)
    if d.synthetic:
        return ""
    return f"**Data: {d.title}.** {d.attribution} *What this run is not:* {d.caveat}."

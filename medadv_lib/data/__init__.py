"""Data: the synthetic embedded default and the real-dataset loaders, all returning ImageDataset.

Imports are lazy (PEP 562), so that the torch-free parts (:mod:`.registry`, :mod:`.errors` and the
datasets' cheap checks) can be used before torch is loaded, e.g. by ``medadv list`` and by the
parameter checks that run before a notebook starts.
"""
from importlib import import_module

_EXPORTS = {
    "DataFileError": ".errors", "ImageDataset": ".datasets", "read_grayscale": ".datasets",
    "COVIDX_CLASSES": ".covidx", "covidnet_preprocess": ".covidx", "covidx_splits": ".covidx",
    "load_covidx": ".covidx", "parse_split_line": ".covidx", "read_split_file": ".covidx",
    "synthetic_covidx": ".covidx", "CHESTXRAY14_FINDINGS": ".synthetic",
}
__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

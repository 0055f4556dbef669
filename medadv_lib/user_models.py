"""Your model as the attacks see it: an architecture by name, your weights file, checked against a dataset.

``--arch SOURCE:NAME`` names the architecture; the weights come from the user's file, never from the
network (nothing is downloaded):

* ``timm:NAME`` (``timm.create_model(NAME, pretrained=False, num_classes=K, in_chans=C)``);
* ``torchvision:NAME`` (``torchvision.models.get_model(NAME, weights=None, num_classes=K)``; three
  input channels, a gray dataset is repeated to three);
* ``medadv:NAME`` (the collection's own models, :func:`medadv_lib.models.build_model`);
* ``xrv:NAME`` (torchxrayvision's ``DenseNet`` with ``weights=None``; Cohen et al. 2022,
  "TorchXRayVision: A library of chest X-ray datasets and models", MIDL): one input channel,
  224 px, inputs scaled to [-1024, 1024] (``xrv.datasets.normalize(img, 255)``), 18 outputs named
  in ``model.targets``. The wrapper :class:`XRVModel` takes the dataset's [0, 1] images, resizes
  them to 224 px, scales them, and keeps the outputs of the dataset's findings, matched by name.

The file is a state dict (``torch.save(model.state_dict(), FILE)``; also ``{"state_dict": ...}``
or ``{"model": ...}``, a ``module.`` prefix stripped), loaded with
``torch.load(path, weights_only=True)``, or a TorchScript file (``torch.jit.save``). Every bad input is refused with
one :class:`ModelInputError` before any attack: a missing file, a file that is not a checkpoint, a
state dict of another architecture (missing, unexpected and mis-shaped keys, the first few), a
model whose output does not fit the dataset's task and labels, the wrong number of input channels,
images outside the range the model expects.
"""
from __future__ import annotations

import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["ModelInputError", "SOURCES", "XRV_ARCHS", "LoadedModel", "parse_arch", "load_model", "check_model",
           "output_count", "XRVModel", "GrayToRGB"]

SOURCES = ("timm", "torchvision", "medadv", "xrv")
XRV_ARCHS = ("densenet121",)
#: How many key names an error lists of each kind.
SHOWN = 5
NORMALIZATIONS = ("none", "imagenet")
_IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


class ModelInputError(ValueError):
    """A model file, architecture or dataset that cannot be evaluated together (CLI: exit 2)."""


def parse_arch(arch: str) -> tuple[str, str]:
    """``"timm:resnet18"`` -> ``("timm", "resnet18")``; an unknown source is refused."""
    source, sep, name = str(arch).partition(":")
    if not sep or not name or source not in SOURCES:
        raise ModelInputError(f"architecture {arch!r}: expected SOURCE:NAME with SOURCE one of {list(SOURCES)} "
                              "(e.g. timm:resnet18, torchvision:resnet18, medadv:densenet-small, xrv:densenet121)")
    if source == "xrv" and name not in XRV_ARCHS:
        raise ModelInputError(f"architecture {arch!r}: torchxrayvision architectures: {list(XRV_ARCHS)}")
    return source, name


def output_count(task: str, classes) -> int:
    """The outputs a model needs for a dataset: one logit (binary), one per class or finding."""
    return 1 if task == "binary" else len(classes)


class XRVModel(nn.Module):
    """A torchxrayvision model on [0, 1] images: resized to ``size`` px, scaled to [-1024, 1024]
    (``xrv.datasets.normalize(img * 255, 255)``), its outputs ``index`` (the dataset's findings in
    the dataset's order, matched by name in ``model.targets``)."""

    def __init__(self, model: nn.Module, index: list[int], size: int = 224):
        super().__init__()
        self.model, self.size = model, size
        self.register_buffer("index", torch.tensor(index, dtype=torch.long), persistent=False)

    def forward(self, x):
        if x.shape[-2:] != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return self.model(x * 2048.0 - 1024.0)[:, self.index]


class GrayToRGB(nn.Module):
    """A gray image repeated to the three channels an RGB model takes (and ImageNet's mean/std
    applied when ``normalize`` is ``imagenet``)."""

    def __init__(self, model: nn.Module, repeat: bool, normalize: str = "none"):
        super().__init__()
        self.model, self.repeat = model, repeat
        mean, std = _IMAGENET if normalize == "imagenet" else ((0.0,) * 3, (1.0,) * 3)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        self.normalize = normalize

    def forward(self, x):
        if self.repeat:
            x = x.repeat(1, 3, 1, 1)
        if self.normalize != "none":
            x = (x - self.mean[:, :x.shape[1]]) / self.std[:, :x.shape[1]]
        return self.model(x)


@dataclass
class LoadedModel:
    """The user's model, wrapped to take the dataset's [0, 1] images and give the dataset's outputs."""

    model: nn.Module
    arch: str
    file: str
    format: str                    # state dict | TorchScript
    in_chans: int | None           # channels the architecture takes (None: TorchScript, probed)
    outputs: list[str]             # what each output is (the dataset's classes or findings)
    input_range: tuple[float, float] = (0.0, 1.0)
    notes: list[str] = field(default_factory=list)   # what the wrapper does (shown on the page)


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(n.endswith("constants.pkl") or "/code/" in n for n in archive.namelist())


def read_checkpoint(path: str | Path):
    """``("TorchScript", module)`` or ``("state dict", {name: tensor})``; refused otherwise."""
    path = Path(str(path)).expanduser()
    if not path.is_file():
        raise ModelInputError(f"model file not found: {path} (nothing is downloaded: save your weights there)")
    if _is_torchscript(path):
        try:
            with warnings.catch_warnings():      # torch 2.14: "torch.jit.load is deprecated" (the format is not)
                warnings.simplefilter("ignore", FutureWarning)
                return "TorchScript", torch.jit.load(str(path), map_location="cpu")
        except Exception as exc:  # noqa: BLE001 - any failure means: not a usable TorchScript file
            raise ModelInputError(f"{path} is not a loadable TorchScript file: {exc}") from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickle, zip and magic-number errors alike
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = (" (a pickled model object is refused: save model.state_dict() or a TorchScript file)"
                if "weights_only" in str(exc) or "Unsupported global" in str(exc) else "")
        raise ModelInputError(f"{path} is not a checkpoint torch.load(..., weights_only=True) can read: "
                              f"{first[:200]}{hint}") from None
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelInputError(f"{path} holds a {type(obj).__name__}, not a state dict of tensors "
                              "(save model.state_dict() or a TorchScript file)")
    return "state dict", {re.sub(r"^module\.", "", k): v for k, v in obj.items()}


def _build(source: str, name: str, num_outputs: int, in_chans: int, options: dict | None = None) -> nn.Module:
    options = dict(options or {})
    if source == "timm":
        import timm

        try:
            return timm.create_model(name, pretrained=False, **{"num_classes": num_outputs, "in_chans": in_chans,
                                                                **options})
        except (RuntimeError, ValueError) as exc:
            raise ModelInputError(f"timm architecture {name!r}: {exc}") from None
    if source == "torchvision":
        import torchvision

        try:
            return torchvision.models.get_model(name, weights=None, **{"num_classes": num_outputs, **options})
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelInputError(f"torchvision architecture {name!r}: {exc}") from None
    if source == "medadv":
        import inspect

        from .models import _BUILDERS, _load_all, build_model

        _load_all()
        accepted = inspect.signature(_BUILDERS[name]).parameters if name in _BUILDERS else {}
        channels = "in_chans" if "in_chans" in accepted else "in_channels"
        try:
            return build_model(name, **{"num_classes": num_outputs, channels: in_chans, **options})
        except (ValueError, TypeError) as exc:
            raise ModelInputError(f"medadv architecture {name!r}: {exc}") from None
    import torchxrayvision as xrv

    return xrv.models.DenseNet(weights=None)


def _load_state(model: nn.Module, state: dict, arch: str, path) -> None:
    """Load ``state`` strictly, or refuse with the first missing, unexpected and mis-shaped keys."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)} in the file, {tuple(own[k].shape)} in {arch}"
              for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = []
        for label, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("mis-shaped", shapes)):
            if keys:
                more = f" (and {len(keys) - SHOWN} more)" if len(keys) > SHOWN else ""
                parts.append(f"{len(keys)} {label}: {', '.join(keys[:SHOWN])}{more}")
        raise ModelInputError(f"{path} is not a state dict of {arch} for this dataset: " + "; ".join(parts))
    model.load_state_dict(state)


def _first_conv_channels(model: nn.Module) -> int | None:
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            return module.in_channels
    return None


def _script_channels(module) -> int | None:
    """Input channels of a TorchScript model: those of its first 4-D weight (a conv), if any."""
    for key, value in module.state_dict().items():
        if key.endswith("weight") and value.ndim == 4:
            return int(value.shape[1])
    return None


def _norm_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _xrv_index(targets, classes, task: str) -> list[int]:
    """The positions in torchxrayvision's ``targets`` of the dataset's findings, matched by name."""
    wanted = [c for c in classes if _norm_name(c) != "normal"] if task == "binary" else list(classes)
    if task == "binary":
        wanted = wanted[-1:]
    by_name = {_norm_name(t): i for i, t in enumerate(targets) if t}
    missing = [c for c in wanted if _norm_name(c) not in by_name]
    if missing:
        raise ModelInputError(f"the torchxrayvision model has no output for {missing}; its outputs: {list(targets)}")
    return [by_name[_norm_name(c)] for c in wanted]


def load_model(path: str | Path, arch: str, *, task: str, classes, channels: int,
               normalize: str = "none", options: dict | None = None) -> LoadedModel:
    """The user's model from ``path`` as architecture ``arch``, wrapped for a dataset of ``task``
    with ``classes`` and ``channels``; eval mode. ``options``: further keyword arguments of the
    architecture's builder (e.g. ``{"width": 0.25}``). Refuses with :class:`ModelInputError`."""
    if normalize not in NORMALIZATIONS:
        raise ModelInputError(f"normalize must be one of {list(NORMALIZATIONS)}, not {normalize!r}")
    source, name = parse_arch(arch)
    kind, content = read_checkpoint(path)
    k = output_count(task, classes)
    names = [classes[-1]] if task == "binary" else list(classes)
    notes = []
    if source == "xrv":
        if channels != 1:
            raise ModelInputError(f"{arch} takes one input channel; the dataset has {channels}")
        base = content if kind == "TorchScript" else _build(source, name, k, channels)
        if kind != "TorchScript":
            _load_state(base, content, arch, path)
        targets = list(getattr(base, "targets", None) or _build(source, name, k, channels).targets)
        index = _xrv_index(targets, classes, task)
        model, in_chans = XRVModel(base, index), 1
        notes.append(f"torchxrayvision: inputs resized to 224 px and scaled to [-1024, 1024]; outputs "
                     f"{[targets[i] for i in index]} of its {len(targets)}, matched by name")
    else:
        if kind == "TorchScript":
            model, in_chans = content, _script_channels(content)
            notes.append(f"TorchScript file ({arch} names it; the file holds the architecture)")
        else:
            model = _build(source, name, k, channels if source != "torchvision" else 3, options)
            _load_state(model, content, arch, path)
            in_chans = _first_conv_channels(model)
        if in_chans is not None and in_chans != channels:
            if not (channels == 1 and in_chans == 3):
                raise ModelInputError(f"{arch} from {path} takes {in_chans} input channel(s); the dataset has "
                                      f"{channels}")
            notes.append("gray images repeated to the three channels the model takes")
        repeat = channels == 1 and in_chans == 3
        if repeat or normalize != "none":
            model = GrayToRGB(model, repeat, normalize)
        if normalize != "none":
            notes.append("ImageNet mean/std applied inside the model")
    model.eval()
    return LoadedModel(model, arch, str(path), kind, in_chans, names, notes=notes)


def check_model(loaded: LoadedModel, images: torch.Tensor, labels: torch.Tensor, task: str,
                device: str | torch.device = "cpu") -> None:
    """Refuse, before any attack, a model that cannot be evaluated on these images: images outside
    the range the model takes, a forward pass that fails (the wrong input channels or size), an
    output that does not fit the task and labels, and AutoAttack's two refused traps
    (:func:`medadv_lib.autoattack_flags.refusals`: two forward passes that differ, softmax outputs)."""
    lo, hi = loaded.input_range
    if images.numel() and (float(images.min()) < lo or float(images.max()) > hi):
        raise ModelInputError(f"images lie in [{float(images.min()):.4g}, {float(images.max()):.4g}]; the model "
                              f"expects [{lo:g}, {hi:g}] (its own scaling is done inside the wrapper)")
    x = images[:2].float().to(device)
    try:
        with torch.no_grad():
            out = loaded.model.to(device)(x)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0][:300]
        raise ModelInputError(f"{loaded.arch} from {loaded.file} fails on the dataset's images "
                              f"{tuple(x.shape)} (wrong input channels or size?): {first}") from None
    k = len(loaded.outputs) if task != "binary" else 1
    want = f"(N, {k})" if task != "segmentation" else f"(N, {k}, H, W)"
    good = (out.ndim == 2 and out.shape[1] == k) if task != "segmentation" else (
        out.ndim == 4 and out.shape[1] == k and out.shape[-2:] == x.shape[-2:])
    if not good:
        raise ModelInputError(f"{loaded.arch} from {loaded.file} outputs {tuple(out.shape)}; a {task} dataset "
                              f"with outputs {loaded.outputs} needs {want}")
    if task in ("multilabel",) and labels.ndim != 2:
        raise ModelInputError(f"a multilabel model needs (N, {k}) labels, got {tuple(labels.shape)}")
    from .autoattack_flags import model_flags, refusals

    refused = refusals(model_flags(loaded.model, images, labels, task, device))
    if refused:
        raise ModelInputError(f"{loaded.arch} from {loaded.file}: " + "; ".join(
            f"{f.name} ({f.evidence}): the attacks' numbers would be wrong; fix: {f.fix}" for f in refused)
            + " (AutoAttack's checks.py flags the same; see medadv_lib.autoattack_flags)")

"""Your model as the attacks see it: an architecture by name, your weights file, checked against a dataset.

``--arch SOURCE:NAME`` names the architecture; the weights come from the user's file, never from the
network (nothing is downloaded):

* ``timm:NAME`` (``timm.create_model(NAME, pretrained=False, num_classes=K, in_chans=C)``);
* ``torchvision:NAME`` (``torchvision.models.get_model(NAME, weights=None, num_classes=K)``; three
  input channels, a gray dataset is repeated to three);
* ``medadv:NAME`` (the collection's own models, :func:`medadv_lib.models.build_model`);
* ``xrv:NAME`` (torchxrayvision; Cohen et al. 2022, "TorchXRayVision: A library of chest X-ray
  datasets and models", MIDL): ``xrv:densenet121`` is the bare ``DenseNet(weights=None)``; a name
  of ``xrv.models.model_urls`` (``xrv:densenet121-res224-all``, ``-nih``, ``-chex``, ...,
  ``xrv:resnet50-res512-all``) is the model ``xrv.models.DenseNet(weights=NAME)`` (or ``ResNet``)
  builds, built here as its ``__init__`` does but without the download (:func:`build_xrv`): that
  weight's own label list (``model_urls[NAME]["labels"]``, ``''`` where it predicts nothing), its
  ``op_threshs`` buffer and ``input_resolution``; the user's state dict (saved from that model)
  is then loaded into it. One input channel, inputs scaled to [-1024, 1024]
  (``xrv.datasets.normalize(img, 255)``). With ``op_threshs`` set, torchxrayvision's ``forward``
  returns ``op_norm``-calibrated probabilities (0.5 at each finding's operating point), not logits
  (torchxrayvision issue #151; #14: gradients through ``op_norm`` are slow): the attacks read
  logits, so the loaded model's ``op_threshs`` is set to None, and the page says so. The wrapper
  :class:`XRVModel` takes the dataset's [0, 1] images, resizes them to the model's resolution
  (224 or 512 px; bilinear with antialiasing, as torchxrayvision's ``fix_resolution``), scales
  them, and keeps the outputs of the dataset's findings, matched by name; a finding the weight
  does not predict is refused by name.

The file is a state dict (``torch.save(model.state_dict(), FILE)``; also ``{"state_dict": ...}``
or ``{"model": ...}``, a ``module.`` prefix stripped), loaded with
``torch.load(path, weights_only=True)``, or a TorchScript file (``torch.jit.save``). Every bad input is refused with
one :class:`ModelInputError` before any attack: a missing file, a file that is not a checkpoint, a
state dict of another architecture (missing, unexpected and mis-shaped keys, the first few), a
model whose output does not fit the dataset's task and labels, the wrong number of input channels,
images outside the range the model expects, and two of AutoAttack's traps (two forward passes that
differ, softmax outputs; :mod:`medadv_lib.evaluation.flags`, whose other flags the page shows).
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

__all__ = ["ModelInputError", "SOURCES", "XRV_ARCHS", "xrv_archs", "build_xrv", "LoadedModel", "parse_arch",
           "load_model", "check_model", "output_count", "XRVModel", "GrayToRGB"]

SOURCES = ("timm", "torchvision", "medadv", "xrv")
#: The bare torchxrayvision architecture; :func:`xrv_archs` adds the names of its published weights.
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
    if source == "xrv" and name not in xrv_archs():
        raise ModelInputError(f"architecture {arch!r}: torchxrayvision architectures: {list(xrv_archs())}")
    return source, name


def xrv_archs() -> tuple[str, ...]:
    """``densenet121`` (bare) and every name of torchxrayvision's ``xrv.models.model_urls``."""
    import torchxrayvision as xrv

    return XRV_ARCHS + tuple(xrv.models.model_urls)


def build_xrv(name: str) -> nn.Module:
    """The torchxrayvision model ``xrv.models.DenseNet(weights=name)`` (``ResNet`` for the
    ``resnet`` names) builds, without downloading its weights: the same modules, ``targets``
    (``model_urls[name]["labels"]``), ``op_threshs`` buffer and ``input_resolution``, set as its
    ``__init__`` sets them (torchxrayvision 1.x ``models.py``), in eval mode; the weights are the
    caller's to load. ``densenet121``: the bare ``DenseNet(weights=None)``."""
    import torchvision
    import torchxrayvision as xrv

    if name == "densenet121":
        return xrv.models.DenseNet(weights=None)
    entry = xrv.models.model_urls[name]
    labels = list(entry["labels"])
    if name.startswith("resnet"):
        model = xrv.models.ResNet.__new__(xrv.models.ResNet)
        nn.Module.__init__(model)
        model.weights, model.apply_sigmoid, model.weights_dict = name, False, entry
        model.targets = model.pathologies = labels
        build = torchvision.models.resnet101 if name.startswith("resnet101") else torchvision.models.resnet50
        model.model = build(num_classes=len(labels), weights=None)
        model.model.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
        if "op_threshs" in entry:
            model.register_buffer("op_threshs", torch.tensor(entry["op_threshs"]))
    else:
        model = xrv.models.DenseNet(weights=None, num_classes=len(labels))
        model.weights = name
        model.targets = model.pathologies = labels
        if "op_threshs" in entry:
            model.op_threshs = torch.tensor(entry["op_threshs"])     # the registered buffer, as __init__ sets it
    if "input_resolution" in entry:
        model.input_resolution = entry["input_resolution"]
    return model.eval()


def output_count(task: str, classes) -> int:
    """The outputs a model needs for a dataset: one logit (binary), one per class or finding."""
    return 1 if task == "binary" else len(classes)


class XRVModel(nn.Module):
    """A torchxrayvision model on [0, 1] images: resized to ``size`` px, scaled to [-1024, 1024]
    (``xrv.datasets.normalize(img * 255, 255)``), its outputs ``index`` (the dataset's findings in
    the dataset's order, matched by name in ``model.targets``) minus ``offset`` (the logits of the
    published weights' operating points, so that a logit's sign is the calibrated decision)."""

    def __init__(self, model: nn.Module, index: list[int], size: int = 224, antialias: bool = False,
                 offset: torch.Tensor | None = None):
        super().__init__()
        self.model, self.size, self.antialias = model, size, antialias
        self.register_buffer("index", torch.tensor(index, dtype=torch.long), persistent=False)
        offset = torch.zeros(len(index)) if offset is None else offset.float()
        self.register_buffer("offset", offset, persistent=False)

    def forward(self, x):
        if x.shape[-2:] != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False,
                              antialias=self.antialias)
        return self.model(x * 2048.0 - 1024.0)[:, self.index] - self.offset


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

        from ..models import _BUILDERS, _load_all, build_model

        _load_all()
        accepted = inspect.signature(_BUILDERS[name]).parameters if name in _BUILDERS else {}
        channels = "in_chans" if "in_chans" in accepted else "in_channels"
        try:
            return build_model(name, **{"num_classes": num_outputs, channels: in_chans, **options})
        except (ValueError, TypeError) as exc:
            raise ModelInputError(f"medadv architecture {name!r}: {exc}") from None
    return build_xrv(name)


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


def _xrv_index(targets, classes, task: str, arch: str = "the torchxrayvision model") -> list[int]:
    """The positions in torchxrayvision's ``targets`` of the dataset's findings, matched by name;
    a finding the weight does not predict (absent, or ``''`` in its label list) is refused by name."""
    wanted = [c for c in classes if _norm_name(c) != "normal"] if task == "binary" else list(classes)
    if task == "binary":
        wanted = wanted[-1:]
    by_name = {_norm_name(t): i for i, t in enumerate(targets) if t}
    missing = [c for c in wanted if _norm_name(c) not in by_name]
    if missing:
        blank = sum(1 for t in targets if not t)
        raise ModelInputError(f"{arch} predicts no {', '.join(map(repr, missing))}: the dataset's finding(s) have no "
                              f"output among its {len(targets)}" + (f" ({blank} blank: findings this weight does "
                                                                    "not predict)" if blank else "")
                              + f"; it predicts {[t for t in targets if t]}")
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
            if name == "densenet121" and "op_threshs" in content:
                raise ModelInputError(f"{path} holds an op_threshs buffer: it was saved from a model with published "
                                      f"weights; name them, e.g. --arch xrv:densenet121-res224-all (one of "
                                      f"{list(xrv_archs()[1:])})")
            if "op_threshs" in base.state_dict() and "op_threshs" not in content:
                base.op_threshs = None            # saved after op_threshs = None: the state dict has no such key
            _load_state(base, content, arch, path)
        targets = list(getattr(base, "targets", None) or _build(source, name, k, channels).targets)
        index = _xrv_index(targets, classes, task, arch)
        size, offset = int(getattr(base, "input_resolution", 224)), None
        if getattr(base, "op_threshs", None) is not None:
            threshs = base.op_threshs.detach().float().cpu()[index]
            offset = torch.where(torch.isnan(threshs), torch.zeros_like(threshs), torch.logit(threshs))
            base.op_threshs = None
            notes.append("op_threshs set to None: with it, torchxrayvision's forward returns op_norm-calibrated "
                         "probabilities (0.5 at each finding's operating point, a sigmoid before it), and the "
                         "attacks' losses read logits (on probabilities they are the wrong loss and the sigmoid "
                         "flattens their gradients; torchxrayvision #151, #14). The outputs attacked are the "
                         "classifier's logits minus logit(op_thresh) per finding (none where the weight has no "
                         "threshold), so a logit above 0 is exactly op_norm's output above 0.5: the published "
                         "decision, as a logit")
        elif name != "densenet121" and kind != "TorchScript":
            notes.append("no op_threshs in the file: the classifier's logits are attacked")
        model, in_chans = XRVModel(base, index, size, antialias=name != "densenet121", offset=offset), 1
        notes.insert(0, f"torchxrayvision {name}: inputs resized to {size} px and scaled to [-1024, 1024]; outputs "
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
    (:func:`medadv_lib.evaluation.flags.refusals`: two forward passes that differ, softmax outputs)."""
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
    from .flags import model_flags, refusals

    refused = refusals(model_flags(loaded.model, images, labels, task, device, n=4))
    if refused:
        raise ModelInputError(f"{loaded.arch} from {loaded.file}: " + "; ".join(
            f"{f.name} ({f.evidence}): the attacks' numbers would be wrong; fix: {f.fix}" for f in refused)
            + " (AutoAttack's checks.py flags the same; see medadv_lib.evaluation.flags)")

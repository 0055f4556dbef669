"""One trainer for every chapter, with a checkpoint cache keyed by the full configuration.

* ``train_model(...)`` builds a registered model, trains it with tqdm progress, class weights
  and a fixed seed, and returns it in eval mode.
* Every epoch is checkpointed atomically under ``<cache>/checkpoints/<key>/`` where ``key``
  hashes the model name and arguments, the training configuration, a fingerprint of the
  training data and a hash of the model and training code. The same configuration never trains
  twice; an interrupted run resumes from its last finished epoch (optimizer and RNG state
  included, so the result is the same). Only the newest epoch's file keeps that state; the older
  ones, and all of them once ``final.pt`` is written, keep the weights and history alone
  (``_slim_checkpoint``: a third of the size with Adam).
* ``keep_epochs=False`` (a chapter that reads no epoch but the last): the resumable checkpoint is
  written at most every :data:`RESUME_SECONDS` of training and replaces the one before, and none
  is left once ``final.pt`` is written. The weights are the same; ten-attacks' Inception-ResNet-v2
  wrote 84 MB per epoch that nothing read (5.6 GB and about 80 s of a 610 s training per run).
* Every checkpoint's SHA-256 is recorded when it is written and checked before it is used
  (:mod:`medadv_lib.cache`); a damaged one is moved aside with a warning and recomputed from the
  last good epoch that can resume (else from the first), giving the same numbers. Checkpoints are read with
  ``torch.load(..., weights_only=True)``.
* Processes sharing one cache (parallel book runs, nbval under xdist, sweep workers) never train
  the same configuration twice: a miss is trained under the checkpoint folder's lock
  (:meth:`medadv_lib.cache.VerifiedFolder.lock`), and whoever waited for it reads the result.
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F
from .progress import tqdm

from .data.datasets import ImageDataset
from .models import build_model
from .cache import VerifiedFolder
from .utils import cache_dir, config_key, resolve_device, seed_everything

__all__ = ["TrainConfig", "TrainResult", "train_model", "fingerprint", "predict", "evaluate_accuracy",
           "load_epoch", "augment_batch", "recalibrate_batchnorm", "calibration_subset", "CALIBRATION_IMAGES",
           "code_fingerprint", "training_curves"]

OPTIMIZERS = ("adam", "sgd", "rmsprop")
#: Checkpoint folders whose training lock this thread holds (the lock is not re-entrant).
_HELD = threading.local()
LOSSES = ("ce", "bce", "segmentation-ce")


@dataclass(frozen=True)
class TrainConfig:
    """Training hyper-parameters; every field is part of the checkpoint key."""

    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    momentum: float = 0.9            # sgd momentum
    rmsprop_decay: float = 0.9       # RMSProp smoothing constant (alpha)
    rmsprop_eps: float = 1.0
    lr_decay: float = 1.0            # multiply the learning rate by this ...
    lr_decay_every: int = 0          # ... every this many epochs (0: never)
    loss: str = "ce"                 # ce | bce (multi-label / single logit) | segmentation-ce
    class_weighted: bool = True
    augment: bool = False            # small random shifts and flips, as COVID-Net's training
    seed: int = 0

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.epochs < 0 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("epochs must be >= 0, batch_size >= 1 and lr > 0")


@dataclass
class TrainResult:
    """A trained model with what rebuilds it: ``build_model(model_name, **model_kwargs)``."""

    model: nn.Module
    model_name: str
    model_kwargs: dict
    history: list[dict] = field(default_factory=list)
    checkpoint_dir: Path | None = None
    from_cache: bool = False
    seconds: float = 0.0
    #: Re-runs the same training (resuming from the last good checkpoint): how :func:`load_epoch`
    #: recovers from a damaged per-epoch file.
    retrain: Callable[[], "TrainResult"] | None = field(default=None, repr=False, compare=False)

    def rebuild(self) -> nn.Module:
        """A fresh, untrained instance of the same architecture."""
        return build_model(self.model_name, **self.model_kwargs)


def code_fingerprint() -> str:
    """Hash of the source that defines every model and the training (``models/`` and this
    module): part of the checkpoint key, so a code change never reuses an old checkpoint."""
    from . import models

    h = hashlib.sha256()
    files = sorted(Path(models.__file__).parent.glob("*.py")) + [Path(__file__)]
    for path in files:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def fingerprint(dataset: ImageDataset) -> str:
    """Content hash of a dataset's images and targets (part of the checkpoint key)."""
    h = hashlib.sha256()
    for tensor in (dataset.images, dataset.targets):
        h.update(str((tuple(tensor.shape), tensor.dtype)).encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def augment_batch(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal flips and shifts of up to 1/10 of the size (COVID-Net's augmentation)."""
    n, _, h, w = images.shape
    flip = torch.rand(n, generator=generator) < 0.5
    images = torch.where(flip.view(-1, 1, 1, 1).to(images.device), images.flip(-1), images)
    shifts = (torch.rand(n, 2, generator=generator) * 0.2 - 0.1)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, :, 2] = shifts
    grid = F.affine_grid(theta.to(images.device), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, padding_mode="border", align_corners=False)


def _loss_fn(config: TrainConfig, train: ImageDataset, device) -> Callable:
    weights = train.class_weights().to(device) if config.class_weighted else None
    if config.loss == "bce":
        return nn.BCEWithLogitsLoss(pos_weight=weights)
    if config.loss == "segmentation-ce":
        return nn.CrossEntropyLoss()
    return nn.CrossEntropyLoss(weight=weights)


def _optimizer(config: TrainConfig, params) -> torch.optim.Optimizer:
    """SGD and Adam run fused (one kernel for all parameters; about 15 % of a CPU training step
    saved on COVID-Net, ``benchmarks/training_step.py``); RMSprop has no fused kernel."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                               weight_decay=config.weight_decay, fused=True)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=config.lr, alpha=config.rmsprop_decay,
                                   eps=config.rmsprop_eps, weight_decay=config.weight_decay)
    return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay, fused=True)


def _scheduler(config: TrainConfig, opt):
    step = config.lr_decay_every or 10**9
    return torch.optim.lr_scheduler.StepLR(opt, step_size=step, gamma=config.lr_decay)


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 128,
            device: str | torch.device = "auto") -> torch.Tensor:
    """Model outputs (logits) for a tensor of images, batched, on ``device``, returned on CPU."""
    device = resolve_device(device)
    model.eval()
    outs = [model(images[i:i + batch_size].to(device)).float().cpu()
            for i in range(0, len(images), batch_size)]
    return torch.cat(outs) if outs else torch.empty(0)


def evaluate_accuracy(model: nn.Module, dataset: ImageDataset, device="auto") -> float:
    logits = predict(model, dataset.float_images(), device=device)
    if dataset.multilabel:
        return float(((logits > 0).float() == dataset.targets).float().mean())
    if logits.ndim == 2 and logits.shape[1] == 1:
        return float(((logits[:, 0] > 0).long() == dataset.targets).float().mean())
    return float((logits.argmax(1) == dataset.targets).float().mean())


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, images: torch.Tensor, device, batch_size: int = 256) -> None:
    """Set every batch-norm layer's running statistics to the exact statistics of ``images``.

    With small synthetic sets and fast optimisers the exponential running averages lag behind the
    weights, and eval-mode accuracy drops far below train-mode accuracy; one pass with a
    cumulative average (``momentum=None``) fixes that deterministically.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    was_training = model.training
    model.train()
    for i in range(0, len(images), batch_size):
        batch = images[i:i + batch_size]
        if len(batch) > 1:
            model(batch.to(device))
    for m, momentum in zip(norms, saved):
        m.momentum = momentum
    model.train(was_training)


#: Training images whose batch statistics set the batch-norm layers after each epoch.
CALIBRATION_IMAGES = 1024


#: With ``keep_epochs=False``: the most training seconds an interruption can cost (how often the
#: resumable checkpoint is written).
RESUME_SECONDS = 120.0


def calibration_subset(n: int, size: int = CALIBRATION_IMAGES) -> torch.Tensor:
    """Indices of the images :func:`train_model` recalibrates batch norm on: all ``n`` when ``n <=
    size``, else a fixed random ``size`` of them (seed 0, sorted; the training generator is not
    touched). The means and variances of 1,024 images are the training set's within a few tenths
    of a percent of their spread, at a fraction of a pass over a large set."""
    if n <= size:
        return torch.arange(n)
    return torch.randperm(n, generator=torch.Generator().manual_seed(0))[:size].sort().values


def _checkpoint_name(epoch: int) -> str:
    return f"epoch_{epoch:03d}.pt"


def load_epoch(result: TrainResult, epoch: int, device="auto") -> nn.Module:
    """Rebuild the model as it was after ``epoch`` (1-based) of a cached training run.

    The checkpoint is verified first; a damaged one is moved aside (with a warning) and the run is
    resumed from the last good epoch before it, which recomputes it (same numbers)."""
    if result.checkpoint_dir is None:
        raise ValueError("this training result has no checkpoint directory")
    if not 1 <= epoch <= len(result.history):
        raise ValueError(f"epoch {epoch} is not one of the {len(result.history)} trained epochs")
    store = VerifiedFolder(result.checkpoint_dir)
    blob = store.read_torch(_checkpoint_name(epoch))
    if blob is None and result.retrain is not None:
        result.retrain()
        blob = store.read_torch(_checkpoint_name(epoch))
    if blob is None:
        raise FileNotFoundError(f"no valid checkpoint for epoch {epoch} in {result.checkpoint_dir}")
    model = result.rebuild()
    model.load_state_dict(blob["model"])
    return model.to(resolve_device(device)).eval()


def train_model(model_name: str, model_kwargs: dict, train: ImageDataset, config: TrainConfig,
                device: str | torch.device = "auto", test: ImageDataset | None = None,
                init_state: dict | None = None, tag: str = "", use_cache: bool = True,
                progress: bool = True, *, recompute: bool = False, keep_epochs: bool = True) -> TrainResult:
    """Train ``build_model(model_name, **model_kwargs)`` on ``train`` (cached by configuration).

    ``init_state`` starts from given weights (fine-tuning, adversarial retraining); it is part of
    the key through its hash. ``test``, when given, is evaluated after every epoch into the
    history (accuracy). ``tag`` separates otherwise identical runs on purpose. ``recompute``
    ignores the final checkpoint and resumes after the last verified epoch (how a damaged
    per-epoch file is recomputed). ``keep_epochs``: keep every epoch's weights for
    :func:`load_epoch` (default); ``False`` keeps only what resuming needs (see the module doc). A
    cached run without them is trained again when a caller asks for them.
    """
    device = resolve_device(device)
    key_config = {
        "model": model_name, "model_kwargs": model_kwargs, "train": asdict(config),
        "code": code_fingerprint(),
        "data": fingerprint(train), "tag": tag,
        "init": None if init_state is None else _state_hash(init_state),
        "test": None if test is None else fingerprint(test),
    }
    key = config_key(key_config)
    folder = cache_dir() / "checkpoints" / f"{model_name}-{key}"
    store = VerifiedFolder(folder)

    def again() -> TrainResult:  # recompute whatever a damaged file cost (used by load_epoch)
        return train_model(model_name, model_kwargs, train, config, device, test, init_state, tag,
                           use_cache, progress, recompute=True, keep_epochs=True)

    if use_cache and not recompute and (not keep_epochs or all(store.exists(_checkpoint_name(e))
                                                               for e in range(1, config.epochs + 1))):
        final, history = store.read_torch("final.pt"), store.read_json("history.json")
        if final is not None and history is not None and len(history) == config.epochs:
            model = build_model(model_name, **model_kwargs)
            model.load_state_dict(final["model"])
            return TrainResult(model.to(device).eval(), model_name, dict(model_kwargs), history,
                               folder, True, 0.0, again)
    held = getattr(_HELD, "folders", None)
    if held is None:
        held = _HELD.folders = set()
    if use_cache and folder not in held:
        # Train (or resume) under the folder's lock; another process that trains this very
        # configuration makes us wait, and the call below then finds its checkpoint.
        with store.lock():
            held.add(folder)
            try:
                return train_model(model_name, model_kwargs, train, config, device, test, init_state, tag,
                                   use_cache, progress, recompute=recompute, keep_epochs=keep_epochs)
            finally:
                held.discard(folder)

    start = time.perf_counter()
    generator = seed_everything(config.seed)
    model = build_model(model_name, **model_kwargs)
    if init_state is not None:
        model.load_state_dict(init_state)
    model.to(device)
    opt = _optimizer(config, model.parameters())
    sched = _scheduler(config, opt)
    loss_fn = _loss_fn(config, train, device)
    history: list[dict] = []
    first_epoch = 1
    resumable = None     # the newest full checkpoint (epoch, model state, history): slimmed once the next is written
    if use_cache:  # resume after the last epoch that, with every epoch before it, passes its check
        blob = None
        if keep_epochs:
            for epoch in range(1, config.epochs + 1):
                if not store.exists(_checkpoint_name(epoch)):
                    break
                checked = store.read_torch(_checkpoint_name(epoch))
                if checked is None:
                    break
                blob = checked
        else:   # the newest resumable checkpoint, whatever came before it
            blob = next((b for e in range(config.epochs, 0, -1) if store.exists(_checkpoint_name(e))
                         and (b := store.read_torch(_checkpoint_name(e))) is not None and "optimizer" in b), None)
        if blob is not None and "optimizer" in blob:   # a slim checkpoint cannot resume: train from the start
            model.load_state_dict(blob["model"])
            opt.load_state_dict(blob["optimizer"])
            sched.load_state_dict(blob["scheduler"])
            torch.set_rng_state(blob["torch_rng"])
            generator.set_state(blob["generator"])
            history = json.loads(blob["history"])
            first_epoch = len(history) + 1
            resumable = (len(history), blob["model"], blob["history"])

    last_write = time.perf_counter()
    n = len(train)
    images_all, targets_all = train.float_images(), train.targets
    calibration = images_all[calibration_subset(n)]
    per_epoch = len(range(0, n, config.batch_size))
    bar = tqdm(total=per_epoch * config.epochs, initial=per_epoch * (first_epoch - 1),
               desc=f"training {model_name}", unit="batch", leave=False, disable=not progress)
    for epoch in range(first_epoch, config.epochs + 1):
        model.train()
        order = torch.randperm(n, generator=generator)
        total, seen = 0.0, 0
        for i in range(0, n, config.batch_size):
            bar.update(1)
            idx = order[i:i + config.batch_size]
            if len(idx) < 2 and n > 1:  # batch norm needs two samples
                continue
            x = images_all[idx].to(device)
            y = targets_all[idx].to(device)
            if config.augment:
                x = augment_batch(x, generator)
            out = model(x)
            if config.loss == "bce" and out.ndim == 2 and out.shape[1] == 1 and y.ndim == 1:
                y = y.float().unsqueeze(1)
            loss = loss_fn(out, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            seen += len(idx)
            bar.set_postfix_str(f"epoch {epoch}/{config.epochs}, loss {total / max(seen, 1):.4f}", refresh=False)
        sched.step()
        recalibrate_batchnorm(model, calibration, device)
        record = {"epoch": epoch, "loss": total / max(seen, 1), "lr": opt.param_groups[0]["lr"]}
        if test is not None:
            record["test_accuracy"] = evaluate_accuracy(model, test, device)
        history.append(record)
        if use_cache and (keep_epochs or time.perf_counter() - last_write >= RESUME_SECONDS):
            weights = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            last_write = time.perf_counter()
            store.write_torch(_checkpoint_name(epoch), {
                "model": weights,
                "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                "torch_rng": torch.get_rng_state(), "generator": generator.get_state(),
                "history": json.dumps(history),
            })
            if keep_epochs:
                _slim_checkpoint(store, resumable)
            elif resumable is not None:
                store.remove(_checkpoint_name(resumable[0]))
            resumable = (epoch, weights, json.dumps(history))
    bar.close()
    model.eval()
    if use_cache:
        store.write_json("config.json", key_config)
        store.write_json("history.json", history)
        store.write_torch("final.pt", {"model": {k: v.detach().cpu() for k, v in model.state_dict().items()}})
        if keep_epochs:
            _slim_checkpoint(store, resumable)
        else:
            for e in range(1, config.epochs + 1):   # this run's last resumable one, and any an older run left
                if store.exists(_checkpoint_name(e)):
                    store.remove(_checkpoint_name(e))
    return TrainResult(model, model_name, dict(model_kwargs), history, folder if use_cache else None, False,
                       time.perf_counter() - start, again if use_cache else None)


def _slim_checkpoint(store: VerifiedFolder, checkpoint: tuple | None) -> None:
    """Rewrite an epoch's checkpoint as its weights and history only (what :func:`load_epoch` reads),
    once a newer epoch can resume the run: the optimizer's state (Adam's two moments: twice the
    weights) is kept in the newest epoch's file alone, until ``final.pt`` is written. 16 epochs of the
    reduced Inception-ResNet-v2 (84 MB of weights, 253 MB with Adam's state) take 4.0 GB with every
    epoch's optimizer state, 1.4 GB without (final.pt included)."""
    if checkpoint is not None:
        epoch, weights, history = checkpoint
        store.write_torch(_checkpoint_name(epoch), {"model": weights, "history": history})


def _state_hash(state: dict) -> str:
    h = hashlib.sha256()
    for name in sorted(state):
        h.update(name.encode())
        h.update(state[name].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def training_curves(runs: Mapping) -> "pd.DataFrame":
    """Convergence of every trained model on a chapter's page (issue 20: training curves shown):
    one row per model, its loss after each epoch, the held-out accuracy per epoch where the
    trainer measured one, and the relative change of the loss over the last epoch (a model still
    far from flat was stopped early; its verdicts measure a model in training)."""
    import pandas as pd

    rows = []
    for key, run in runs.items():
        history = list(getattr(run, "history", []) or [])
        if not history:
            continue
        losses = [float(h["loss"]) for h in history]
        change = (losses[-1] - losses[-2]) / max(abs(losses[-2]), 1e-12) if len(losses) > 1 else float("nan")
        row = {"model": key if isinstance(key, str) else " ".join(str(k) for k in key if k is not None),
               "architecture": run.model_name, "epochs": len(history),
               "loss per epoch": " ".join(f"{v:.3f}" for v in losses),
               "last-epoch change of the loss (%)": round(100 * change, 1)}
        if any("test_accuracy" in h for h in history):
            row["held-out accuracy per epoch"] = " ".join(f"{h.get('test_accuracy', float('nan')):.3f}" for h in history)
        rows.append(row)
    return pd.DataFrame(rows).set_index("model") if rows else pd.DataFrame()

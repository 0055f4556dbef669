"""Grad-CAM (Selvaraju et al. 2017) with forward/backward hooks on a layer chosen by name, and the
number behind Nwadike et al.'s explainability claim: how much of the Grad-CAM mass lies on the
trigger.

``grad_cam`` returns maps at the layer's own resolution, ``ReLU(sum_c alpha_c A_c)`` with
``alpha_c`` the spatial mean of ``d logit_t / d A_c``. ``upsample`` brings them to image size for
display. ``trigger_mass_share`` measures at the layer's resolution: the *trigger region* is the set
of feature-map cells that overlap the trigger square (the finest place a map of that size can
point to); its chance level is the share of cells in the region.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .utils import resolve_device

__all__ = ["grad_cam", "upsample", "trigger_region", "trigger_mass_share", "gradcam_per_epoch"]


def _module(model: nn.Module, layer: str) -> nn.Module:
    modules = dict(model.named_modules())
    if layer not in modules:
        close = [name for name in modules if layer.split(".")[-1] in name][:5]
        raise ValueError(f"model has no layer {layer!r}" + (f"; similar: {close}" if close else ""))
    return modules[layer]


def grad_cam(model: nn.Module, images: torch.Tensor, target: int, layer: str, batch_size: int = 32,
             device="auto") -> torch.Tensor:
    """Grad-CAM maps (N, h, w) of output ``target`` at ``layer`` (a name from ``named_modules``),
    each non-negative and not normalised (so masses can be compared)."""
    if images.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got {tuple(images.shape)}")
    device = resolve_device(device)
    module = _module(model, layer)
    saved: dict[str, torch.Tensor] = {}

    def forward_hook(_module, _inputs, output):
        saved["activation"] = output
        output.register_hook(lambda grad: saved.__setitem__("gradient", grad))
        return output.clone()  # later in-place ops (DenseNet's final ReLU) must not edit our copy

    handle = module.register_forward_hook(forward_hook)
    was_training = model.training
    model.eval()
    maps = []
    try:
        for start in range(0, len(images), batch_size):
            x = images[start:start + batch_size].to(device).float().requires_grad_(False)
            with torch.enable_grad():
                logits = model(x)
                if not 0 <= target < logits.shape[1]:
                    raise ValueError(f"target {target} out of range for {logits.shape[1]} outputs")
                model.zero_grad(set_to_none=True)
                logits[:, target].sum().backward()
            act, grad = saved["activation"].detach(), saved["gradient"].detach()
            weights = grad.mean(dim=(2, 3), keepdim=True)
            maps.append(F.relu((weights * act).sum(1)).cpu())
    finally:
        handle.remove()
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return torch.cat(maps)


def upsample(maps: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize of (N, h, w) maps to (N, size, size), each scaled to [0, 1] for display."""
    up = F.interpolate(maps[:, None].float(), size=(size, size), mode="bilinear", align_corners=False)[:, 0]
    peak = up.flatten(1).max(1).values.clamp(min=1e-12)
    return up / peak.view(-1, 1, 1)


def trigger_region(box: tuple[int, int], trigger_size: int, image_size: int, map_size: int) -> np.ndarray:
    """Boolean (map_size, map_size) mask of the feature-map cells that overlap the trigger square."""
    scale = image_size / map_size
    row, col = box
    r0, r1 = int(row // scale), int(np.ceil((row + trigger_size) / scale))
    c0, c1 = int(col // scale), int(np.ceil((col + trigger_size) / scale))
    mask = np.zeros((map_size, map_size), bool)
    mask[r0:max(r1, r0 + 1), c0:max(c1, c0 + 1)] = True
    return mask


def trigger_mass_share(maps: torch.Tensor, boxes: np.ndarray, trigger_size: int,
                       image_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per image: the share of Grad-CAM mass inside the trigger region, and the chance share
    (region cells / all cells). Images whose map is all zero get NaN."""
    maps = maps.detach().cpu().numpy()
    if len(maps) != len(boxes):
        raise ValueError(f"{len(maps)} maps but {len(boxes)} trigger positions")
    if maps.shape[1] != maps.shape[2]:
        raise ValueError("square maps expected")
    shares, chance = np.empty(len(maps)), np.empty(len(maps))
    for i, (cam, box) in enumerate(zip(maps, boxes)):
        region = trigger_region(tuple(box), trigger_size, image_size, cam.shape[0])
        total = cam.sum()
        shares[i] = cam[region].sum() / total if total > 0 else np.nan
        chance[i] = region.mean()
    return shares, chance


def gradcam_per_epoch(result, model_name: str, model_kwargs: dict, clean_images: torch.Tensor,
                      infected_images: torch.Tensor, boxes: np.ndarray, trigger_size: int, target: int,
                      layers: dict[str, str], epochs=None, example: int = 0, device="auto",
                      progress: bool = True):
    """Grad-CAM of every cached epoch of a training run, on clean and infected copies of the same
    images, at each of ``layers`` ({label: layer name}).

    Returns ``(table, maps)``: ``table`` has one row per (epoch, images, layer) with the mean share
    of Grad-CAM mass inside the trigger region (an all-zero map counts as 0; ``empty_maps`` says
    how many), the number of images ``n``, and the chance level (for clean images the region
    is where the trigger would be); ``maps[(epoch, images, label)]`` is image ``example``'s map at
    image size, scaled to [0, 1] (for Figure 1).
    """
    import pandas as pd
    from .progress import tqdm

    from .training import load_epoch

    if clean_images.shape != infected_images.shape:
        raise ValueError("clean and infected images must be the same images, same shape")
    epochs = list(epochs) if epochs is not None else [h["epoch"] for h in result.history]
    size = clean_images.shape[-1]
    rows, maps = [], {}
    for epoch in tqdm(epochs, desc="Grad-CAM per epoch", leave=False, disable=not progress):
        model = load_epoch(result, epoch, device)
        for variant, images in (("clean", clean_images), ("infected", infected_images)):
            for label, layer in layers.items():
                cams = grad_cam(model, images, target, layer, device=device)
                share, chance = trigger_mass_share(cams, boxes, trigger_size, size)
                # An all-zero map puts no mass on the trigger: it counts as share 0 (the claims'
                # convention), and the number of such maps is reported beside the mean.
                rows.append({"epoch": epoch, "images": variant, "layer": label,
                             "mass_share": float(np.nan_to_num(share, nan=0.0).mean()),
                             "chance_share": float(chance.mean()), "n": len(share),
                             "empty_maps": int(np.isnan(share).sum()),
                             "per_image": np.asarray(share, dtype=float)})
                maps[(epoch, variant, label)] = upsample(cams[example:example + 1], size)[0].numpy()
    return pd.DataFrame(rows), maps

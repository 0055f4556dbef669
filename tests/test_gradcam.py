"""Grad-CAM with hooks, the DenseNet layers it reads, and the trigger-mass measurement."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from medadv_lib.attacks.poisoning import Trigger, infect_images, poison_training_set
from medadv_lib.data.chestxray14 import synthetic_chestxray14
from medadv_lib.explain import (grad_cam, gradcam_per_epoch, trigger_mass_share, trigger_region,
                                upsample)
from medadv_lib.metrics.backdoor import evaluate_epochs
from medadv_lib.models import build_model
from medadv_lib.models.densenet import gradcam_layers
from medadv_lib.training import TrainConfig, train_model


def _layer_output_shape(model, name, x):
    shapes = []
    handle = dict(model.named_modules())[name].register_forward_hook(lambda m, i, o: shapes.append(o.shape))
    with torch.no_grad():
        model.eval()(x)
    handle.remove()
    return shapes[0]


@pytest.mark.parametrize("name", ["densenet-small", "densenet121"])
def test_densenets_take_grayscale_and_middle_layer_matches_last_layer_size(name):
    model = build_model(name)
    x = torch.rand(2, 1, 64, 64)
    assert model.eval()(x).shape == (2, 14)
    layers = gradcam_layers(model)
    last, middle = (_layer_output_shape(model, layers[k], x) for k in ("last", "middle"))
    assert last[-2:] == middle[-2:]
    assert layers["last"] != layers["middle"]


def test_small_densenet_keeps_an_8x8_map_at_64px():
    model = build_model("densenet-small")
    assert _layer_output_shape(model, "features.norm5", torch.rand(1, 1, 64, 64))[-2:] == (8, 8)


def test_grad_cam_equals_the_definition_and_removes_its_hooks():
    torch.manual_seed(0)
    model = build_model("densenet-small").eval()
    x = torch.rand(5, 1, 64, 64)
    cams = grad_cam(model, x, target=2, layer="features.norm5", batch_size=2, device="cpu")
    assert all(not m._forward_hooks for m in model.modules())
    assert all(p.grad is None for p in model.parameters())
    feats = model.features(x)
    feats.retain_grad()
    logits = model.classifier(F.adaptive_avg_pool2d(F.relu(feats), 1).flatten(1))
    logits[:, 2].sum().backward()
    weights = feats.grad.mean((2, 3), keepdim=True)
    expected = F.relu((weights * feats).sum(1)).detach()
    assert torch.allclose(cams, expected, atol=1e-6)
    assert torch.allclose(model(x), logits.detach(), atol=1e-6)
    with pytest.raises(ValueError, match="no layer"):
        grad_cam(model, x, 0, "features.nonexistent")


def test_trigger_region_and_mass_share():
    region = trigger_region((30, 30), 3, 64, 8)                   # pixels 30..32 -> cells 3 and 4
    assert region.sum() == 4 and region[3:5, 3:5].all()
    assert trigger_region((0, 0), 1, 64, 8).sum() == 1
    maps = torch.zeros(2, 8, 8)
    maps[0, 3, 3] = 5.0                                           # all mass on the trigger
    maps[1] = 1.0                                                 # uniform
    share, chance = trigger_mass_share(maps, np.array([[30, 30], [30, 30]]), 3, 64)
    assert share[0] == pytest.approx(1.0)
    assert share[1] == pytest.approx(4 / 64) and chance[1] == pytest.approx(4 / 64)
    up = upsample(maps, 64)
    assert up.shape == (2, 64, 64) and float(up.max()) == pytest.approx(1.0)


@pytest.mark.slow
def test_a_backdoored_model_end_to_end_per_epoch():
    """Train a tiny DenseNet on poisoned synthetic data for 2 epochs; the per-epoch metrics and
    Grad-CAM tables have one row per epoch (and per images x layer), values in range."""
    train = synthetic_chestxray14(48, 32, seed=0)
    test = synthetic_chestxray14(16, 32, seed=0, split="test")
    trigger = Trigger(2, "fixed")
    poisoned = poison_training_set(train, trigger, 0.4, target=0, seed=0)
    kwargs = {"block_config": [2, 2], "growth_rate": 4, "num_init_features": 8}
    result = train_model("densenet-small", kwargs, poisoned.dataset,
                         TrainConfig(epochs=2, batch_size=16, loss="bce"), device="cpu", progress=False)
    infected = infect_images(test, trigger)
    table = evaluate_epochs(result, "densenet-small", kwargs, test, infected.dataset, 0, "cpu", progress=False)
    assert list(table["epoch"]) == [1, 2]
    assert table.drop(columns="epoch").apply(lambda c: c.between(0, 1) | c.isna()).all().all()
    layers = gradcam_layers(build_model("densenet-small", **kwargs))
    mass, maps = gradcam_per_epoch(result, "densenet-small", kwargs, test.float_images()[:4],
                                   infected.dataset.float_images()[:4], infected.boxes[:4], 2, 0, layers,
                                   device="cpu", progress=False)
    assert len(mass) == 2 * 2 * 2 and mass["mass_share"].between(0, 1).all()
    assert (mass["n"] == 4).all()
    for _, row in mass.iterrows():   # an all-zero map counts as share 0, and is counted
        assert row["empty_maps"] == np.isnan(row["per_image"]).sum()
        assert row["mass_share"] == pytest.approx(np.nan_to_num(row["per_image"], nan=0.0).mean())
    assert maps[(2, "infected", "last")].shape == (32, 32)

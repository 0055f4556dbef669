"""swap_max_to_avg_pooling: no max pooling left, every intermediate shape unchanged."""
import pytest
import torch
import torch.nn as nn
from timm.layers import SelectAdaptivePool2d, create_pool2d

from medadv_lib.models import build_model
from medadv_lib.models.timm_models import (AvgPool2dSameExcludePad, max_pooling_layers,
                                           swap_max_to_avg_pooling)


def shapes(model, x):
    seen = {}
    hooks = [m.register_forward_hook(lambda mod, i, o, n=n: seen.__setitem__(n, tuple(o.shape)))
             for n, m in model.named_modules() if n]
    with torch.no_grad():
        out = model(x)
    for h in hooks:
        h.remove()
    return seen, out


@pytest.mark.parametrize("name,kwargs,size", [
    ("inception-resnet-v2", {}, 75),
    ("nasnet-large", {"width": "reduced"}, 35),
])
def test_timm_networks_swap(name, kwargs, size):
    torch.manual_seed(0)  # fixed weights and inputs: the comparison below is deterministic
    model = build_model(name, **kwargs).eval()
    assert max_pooling_layers(model), "the original network has max pooling"
    x = torch.rand(2, 1, size, size)
    before, out_before = shapes(model, x)
    swap_max_to_avg_pooling(model)
    after, out_after = shapes(model, x)
    assert max_pooling_layers(model) == []
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AdaptiveMaxPool2d)) for m in model.modules())
    assert before == after  # every named module's output shape, intermediate ones included
    assert out_after.shape == (2, 1)
    assert not torch.equal(out_before, out_after)  # the pooling really changed


def test_registered_avg_variant_has_no_max_pooling():
    model = build_model("nasnet-large", width="reduced", pooling="avg")
    assert max_pooling_layers(model) == []
    with pytest.raises(ValueError, match="pooling"):
        build_model("nasnet-large", width="reduced", pooling="min")


def test_geometry_is_kept_and_padding_excluded():
    model = nn.Sequential(nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), create_pool2d("max", 3, 2, padding="same"))
    swap_max_to_avg_pooling(model)
    plain, same = model[0], model[1]
    assert isinstance(plain, nn.AvgPool2d) and (plain.kernel_size, plain.stride, plain.padding, plain.ceil_mode,
                                                 plain.count_include_pad) == (3, 2, 1, True, False)
    assert isinstance(same, AvgPool2dSameExcludePad)
    ones = torch.ones(1, 1, 8, 8)
    assert torch.allclose(same(ones), torch.ones(1, 1, 4, 4))  # SAME padding not averaged in
    assert torch.allclose(plain(ones), torch.ones_like(plain(ones)))


@pytest.mark.parametrize("pool_type,features", [("max", 4), ("avgmax", 4), ("catavgmax", 8),
                                                ("fastmax", 4), ("fastcatavgmax", 8)])
def test_global_max_pools_become_averages(pool_type, features):
    model = nn.Sequential(nn.Conv2d(1, 4, 3), SelectAdaptivePool2d(pool_type=pool_type, flatten=True))
    x = torch.rand(2, 1, 9, 9)
    assert model(x).shape == (2, features)
    swap_max_to_avg_pooling(model)
    assert max_pooling_layers(model) == []
    out = model(x)
    assert out.shape == (2, features)
    assert torch.allclose(out[:, :4], model[0](x).mean((2, 3)), atol=1e-6)

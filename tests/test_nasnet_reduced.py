"""The reduced NASNet-Large (NASNet-A 2 @ 768, issue 29 item 5): timm's cells, fewer of them."""
import pytest
import timm
import torch

from medadv_lib.models import build_model
from medadv_lib.models.timm_models import NASNET_CELLS, NASNetReduced, max_pooling_layers


def test_the_cell_loop_wires_the_cells_as_timm_does():
    # with all 6 normal cells per stage, the loop is timm's forward: same weights, same outputs
    torch.manual_seed(0)
    small = dict(num_classes=1, in_chans=1, num_features=192, stem_size=16)
    ours = NASNetReduced(cells=6, **small).eval()
    theirs = timm.create_model("nasnetalarge", pretrained=False, **small).eval()
    theirs.load_state_dict(ours.state_dict())
    x = torch.rand(2, 1, 40, 40)
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x), atol=1e-6)


def test_the_reduced_network_keeps_every_max_pooling_layer():
    model = build_model("nasnet-large", width="reduced")
    assert NASNET_CELLS["reduced"] == 2 and not hasattr(model, "cell_2") and hasattr(model, "cell_13")
    # NASNet-A pools by max only in its stem and reduction cells: all 8 layers are kept
    pools = max_pooling_layers(model)
    assert len(pools) == 8 and all(p.split(".")[0] in ("cell_stem_0", "cell_stem_1", "reduction_cell_0",
                                                        "reduction_cell_1") for p in pools)
    with torch.no_grad():
        assert model.eval()(torch.rand(2, 1, 75, 75)).shape == (2, 1)
    assert max_pooling_layers(build_model("nasnet-large", width="reduced", pooling="avg")) == []
    with pytest.raises(ValueError, match="cells"):
        NASNetReduced(cells=3, num_classes=1, in_chans=1, num_features=192, stem_size=16)

"""AutoAttack's flags (medadv_lib.evaluation.flags): each trap raised on a model built to have it,
not raised on a plain logit model; refused by `medadv evaluate` (exit 2) or shown on the page as
the module documents; the control flag on rows where the noise control beats the attacks."""
import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from conftest import shared_or_skip
from medadv_lib import cli
from medadv_lib.evaluation.flags import (CONTROL, FLAGS, PROBABILITIES, RANDOMNESS, ZERO_GRADIENTS, control_flag,
                                         flags_frame, model_flags, refusals)
from medadv_lib.evaluation.robustness import evaluate
from medadv_lib.evaluation.rows import Victim, outcome_row
from medadv_lib.evaluation.user_models import LoadedModel, ModelInputError, check_model


def _net(outputs=3):
    torch.manual_seed(1)
    return nn.Sequential(nn.Flatten(), nn.Linear(144, 32), nn.ReLU(), nn.Linear(32, outputs))


class Softmax(nn.Module):
    def __init__(self, outputs=3):
        super().__init__()
        self.net = _net(outputs)

    def forward(self, x):
        return self.net(x).softmax(1)


class Sigmoid(Softmax):
    def forward(self, x):
        return torch.sigmoid(self.net(x))


class DropoutOn(Softmax):
    """Dropout left on at evaluation (MC dropout): model.eval() does not switch it off."""

    def forward(self, x):
        return self.net[3](F.dropout(self.net[2](self.net[1](self.net[0](x))), 0.5, training=True))


class Quantised(Softmax):
    """Inputs rounded to 4 levels before the network: the gradient is zero everywhere."""

    def forward(self, x):
        return self.net((x * 4).round() / 4)


def _data(n=8):
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 1, 12, 12, generator=g), torch.randint(0, 3, (n,), generator=g)


def _flags(model, task="multiclass", labels=None):
    x, y = _data()
    return {f.name: f for f in model_flags(model, x, y if labels is None else labels, task)}


def test_a_logit_model_raises_no_flag():
    flags = _flags(_net())
    assert [flags[n].raised for n in (RANDOMNESS, PROBABILITIES, ZERO_GRADIENTS)] == [False, False, False]
    assert "logits" in flags[PROBABILITIES].evidence and "0 of 8 inputs" in flags[ZERO_GRADIENTS].evidence
    assert not refusals(list(flags.values()))


def test_softmax_outputs_are_raised_and_refused():
    flags = _flags(Softmax())
    assert flags[PROBABILITIES].raised and flags[PROBABILITIES].refused
    assert "every row sums to 1 (a softmax)" in flags[PROBABILITIES].evidence
    assert refusals(list(flags.values())) == [flags[PROBABILITIES]]
    assert "without its final softmax" in flags[PROBABILITIES].fix


def test_sigmoid_outputs_are_raised_on_the_page_not_refused():
    x, _ = _data()
    y = (torch.rand(8, 3, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    flags = {f.name: f for f in model_flags(Sigmoid(), x, y, "multilabel")}
    assert flags[PROBABILITIES].raised and not flags[PROBABILITIES].refused
    evidence = flags[PROBABILITIES].evidence
    assert "every output lies in [0, 1]" in evidence and "uniform-noise" in evidence
    assert not refusals(list(flags.values()))


def test_dropout_left_on_is_raised_and_refused():
    model = DropoutOn().eval()
    flags = _flags(model)
    assert flags[RANDOMNESS].raised and flags[RANDOMNESS].refused and "differ by up to" in flags[RANDOMNESS].evidence
    assert not model.training                                        # the caller's model comes back as it was
    plain = _net().train()                                           # nn.Dropout-free, in training mode: eval'd inside
    assert not _flags(plain)[RANDOMNESS].raised and plain.training


def test_zero_gradients_are_raised_with_their_count():
    flags = _flags(Quantised())
    assert flags[ZERO_GRADIENTS].raised and not flags[ZERO_GRADIENTS].refused
    assert flags[ZERO_GRADIENTS].evidence.startswith("8 of 8 inputs")


def _row(attack, eps, robust, setting="white"):
    v = Victim("m", "evaluate", "multiclass", None, None, None)
    return outcome_row(v, attack, "x", setting, "Linf", eps, np.array(robust, dtype=bool))


def test_control_flag_is_raised_when_noise_beats_every_white_box_attack():
    rows = [_row("fgsm", 0.01, [1, 1, 1, 0]), _row("pgd", 0.01, [1, 1, 0, 1]), _row("noise", 0.01, [1, 0, 0, 0]),
            _row("fgsm", 0.03, [0, 0, 1, 0]), _row("pgd", 0.03, [0, 0, 1, 0]), _row("noise", 0.03, [1, 1, 1, 0])]
    flag = control_flag(pd.DataFrame(rows), "m")
    assert flag.raised and flag.name == CONTROL
    assert flag.evidence == "noise at Linf 2.55/255: 25.0 % vs worst case 50.0 %"
    fine = control_flag(pd.DataFrame(rows[3:]), "m")
    assert fine.raised is False and "at or above the white-box worst case" in fine.evidence
    assert control_flag(pd.DataFrame(rows[:2]), "m").raised is None


def test_evaluate_shows_every_flag_and_the_page_table():
    model = Sigmoid(outputs=1)
    x, _ = _data()
    y = torch.tensor([0, 1] * 4)
    result = evaluate(model, x, y, eps=[0.01, 0.1], attacks=["fgsm"], task="binary", steps=2, device="cpu")
    assert [f.name for f in result.flags] == list(FLAGS)
    by = {f.name: f for f in result.flags}
    assert by[PROBABILITIES].raised and by[RANDOMNESS].raised is False and by[CONTROL].raised in (True, False)
    table = result.flags_table()
    assert list(table.index) == list(FLAGS) and table.loc[PROBABILITIES, "status"] == "RAISED"
    assert "overestimated" in table.loc[PROBABILITIES, "if raised"]
    frame = flags_frame({"mine": result.flags})
    assert list(frame.columns) == list(FLAGS) and frame.loc["mine", PROBABILITIES].startswith("RAISED: ")


def test_check_model_refuses_softmax_and_dropout_with_the_fix():
    x, y = _data(4)
    for model, words in ((Softmax(), "probability outputs"), (DropoutOn(), "randomness")):
        loaded = LoadedModel(model.eval(), "medadv:x", "my.pt", "state dict", 1, ["a", "b", "c"])
        with pytest.raises(ModelInputError, match=f"{words} .*; fix: "):
            check_model(loaded, x, y, "multiclass")
    check_model(LoadedModel(Sigmoid(1).eval(), "medadv:x", "my.pt", "state dict", 1, ["b"]), x, y % 2, "binary")


def test_medadv_evaluate_refuses_a_softmax_and_a_dropout_model_with_exit_2(capsys, tmp_path, monkeypatch):
    """The whole command on RetinaMNIST (5 grades, RGB): TorchScript files of a softmax model and of
    a model with dropout on; refused before any attack (exit 2, one message naming the trap)."""
    root = shared_or_skip("data/medmnist")
    from medadv_lib import attacks

    monkeypatch.setattr(attacks.Attack, "run", lambda *a, **k: pytest.fail("an attack ran"))

    class Conv(nn.Module):
        def __init__(self, outputs, softmax=False, dropout=False):
            super().__init__()
            self.conv, self.fc, self.softmax, self.dropout = nn.Conv2d(3, 4, 3), nn.Linear(4, outputs), softmax, dropout

        def forward(self, x):
            h = F.adaptive_avg_pool2d(torch.relu(self.conv(x)), 1).flatten(1)
            if self.dropout:
                h = F.dropout(h, 0.5, training=True)
            out = self.fc(h)
            return out.softmax(1) if self.softmax else out

    for name, model, words in (("softmax", Conv(5, softmax=True), "probability outputs"),
                               ("dropout", Conv(5, dropout=True), "randomness")):
        path = tmp_path / f"{name}.ts"
        torch.jit.script(model.eval()).save(str(path))
        code = cli.main(["evaluate", "--model", str(path), "--arch", "medadv:x", "--dataset", "retinamnist",
                         "--data-root", str(root), "--n-inputs", "8", "--image-size", "32", "--out",
                         str(tmp_path / "out")])
        err = capsys.readouterr().err
        assert code == 2 and err.count("error:") == 1 and words in err and "fix:" in err, err

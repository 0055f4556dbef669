"""AutoAttack's flags: the traps that make an adversarial evaluation report a robustness the model
does not have, checked on the model itself and on the evaluation's rows.

After F. Croce and M. Hein's AutoAttack (fra31/auto-attack, ``autoattack/checks.py`` and
``flags_doc.md``; "Reliable evaluation of adversarial robustness with an ensemble of diverse
parameter-free attacks", ICML 2020), which warns, before and after its attacks, when

* **randomness**: two forward passes on the same inputs differ (dropout or test-time augmentation
  left on, a randomised defence): a fixed-gradient attack then attacks a moving target, and
  robust accuracy measured once is an overestimate (``check_randomized``: outputs normalised per
  row, any difference above 1e-5);
* **probability outputs**: the outputs look like probabilities, not logits (``check_range_output``:
  every output in [0, 1] and, for a softmax, every row summing to 1): the attacks' cross-entropy
  (binary cross-entropy with logits for one output or several findings) then reads probabilities
  as logits, and a softmax or sigmoid before it flattens the gradients the attacks follow;
* **zero gradients**: the gradient of the attacks' loss with respect to the input is zero (or not
  finite) for some inputs (``check_zero_gradients``): a gradient attack cannot start from there
  (a saturated softmax, a quantised input, a non-differentiable layer);
* **control beats white-box**: a weaker attack that needs no gradient of the model beats the
  white-box worst case (``check_square_sr``: Square, a black-box attack, stronger than the
  white-box attacks): here the random-noise control of the same norm, or PGD's inputs crafted on
  another model (transfer), leaves fewer inputs robust than every white-box attack together, the
  classic sign of gradient masking (Athalye et al. 2018; Carlini et al. 2019, Sec. 5).

Each check gives a :class:`Flag`: raised or not, with its evidence and what it means. AutoAttack
only warns; ``medadv evaluate`` refuses (exit 2, before any attack; :func:`refusals`) the two traps
whose numbers would be wrong rather than merely doubtful, and whose fix is the user's: a model whose
two forward passes differ (fix: its deterministic eval mode; robust accuracy of a random model
needs EOT attacks, not these), and outputs whose rows are a softmax (fix: save the model without
its final softmax). Outputs all in [0, 1] without summing to 1 (possibly sigmoids; small logits of
an untrained model lie there too) and zero gradients are flagged on the page, where the reader sees
them beside the numbers; :func:`medadv_lib.evaluate` itself (the Python API) refuses nothing and
flags all four.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

__all__ = ["Flag", "FLAGS", "RANDOMNESS", "PROBABILITIES", "ZERO_GRADIENTS", "CONTROL", "model_flags",
           "control_flag", "refusals", "flags_frame", "format_flags", "PROBE_INPUTS", "TOLERANCE"]

RANDOMNESS = "randomness"
PROBABILITIES = "probability outputs"
ZERO_GRADIENTS = "zero gradients"
CONTROL = "control beats white-box"
FLAGS = (RANDOMNESS, PROBABILITIES, ZERO_GRADIENTS, CONTROL)
#: Inputs the model checks read (AutoAttack checks on the batch it is given).
PROBE_INPUTS = 16
#: AutoAttack's tolerance: outputs differ, or rows sum to 1, beyond this.
TOLERANCE = 1e-5

MEANING = {
    RANDOMNESS: "the model is not deterministic at evaluation (dropout or augmentation left on?): attacks "
                "follow one draw's gradient and robust accuracy measured once overestimates robustness",
    PROBABILITIES: "the attacks' losses expect logits: on probabilities the cross-entropy is the wrong loss "
                   "and a softmax or sigmoid flattens the gradients, so robust accuracy is overestimated",
    ZERO_GRADIENTS: "a gradient attack cannot move these inputs: their robustness is the attacks' failure, "
                    "not the model's (gradient masking or saturated outputs)",
    CONTROL: "an attack that needs no gradient of this model did better than every white-box attack: the "
             "gradients mislead the attacks (gradient masking), so the white-box numbers overestimate robustness",
}
#: The fix ``medadv evaluate`` names when it refuses a raised flag (the flags not here are shown).
REFUSAL_FIX = {
    RANDOMNESS: "make the forward pass deterministic (model.eval(); no dropout, sampling or test-time "
                "augmentation inside forward) and save it again; a randomised model needs EOT attacks",
    PROBABILITIES: "save the model without its final softmax (the attacks read logits; a softmax's log is a "
                   "valid logit only before saturation)",
}


@dataclass(frozen=True)
class Flag:
    """One of AutoAttack's flags on one model: ``raised`` True or False (None: not tested here,
    ``evidence`` says why), what was measured, and what a raised flag means for the numbers.
    ``refused``: ``medadv evaluate`` refuses the model (exit 2) with ``fix``."""

    name: str
    raised: bool | None
    evidence: str
    refused: bool = False

    @property
    def meaning(self) -> str:
        return MEANING[self.name]

    @property
    def fix(self) -> str:
        return REFUSAL_FIX.get(self.name, "")

    @property
    def status(self) -> str:
        return {True: "RAISED", False: "not raised", None: "not tested"}[self.raised]

    def line(self) -> str:
        tail = f" ({self.meaning})" if self.raised else ""
        return f"{self.name}: {self.status}: {self.evidence}{tail}"


def _forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x).float()


def _randomness(model, x) -> Flag:
    """AutoAttack's ``check_randomized``: two passes, rows normalised, max difference > 1e-5."""
    a, b = _forward(model, x), _forward(model, x)
    na = a.flatten(1) / (a.flatten(1).norm(dim=1, keepdim=True) + 1e-10)
    nb = b.flatten(1) / (b.flatten(1).norm(dim=1, keepdim=True) + 1e-10)
    diff = float((na - nb).abs().max()) if a.numel() else 0.0
    raised = not np.isfinite(diff) or diff > TOLERANCE
    return Flag(RANDOMNESS, raised, f"two forward passes on {len(x)} inputs differ by up to {diff:.2g} "
                                    f"(normalised outputs; AutoAttack's threshold {TOLERANCE:g})", refused=raised)


def _probabilities(model, x, out: torch.Tensor, task: str) -> Flag:
    """AutoAttack's ``check_range_output``: every output in [0, 1] (and rows summing to 1: a
    softmax). One output per input, or several findings, cannot sum to 1: all in [0, 1], on the
    inputs and on uniform noise images too (where logits usually leave [0, 1]), flags possible
    sigmoids."""
    if task == "segmentation" or out.ndim != 2:
        rows = out.movedim(1, -1).reshape(-1, out.shape[1]) if out.ndim == 4 else out.flatten(1)
    else:
        rows = out
    inside = bool(((rows >= -TOLERANCE) & (rows <= 1 + TOLERANCE)).all())
    sums = rows.sum(-1)
    softmax = inside and rows.shape[-1] > 1 and bool(((sums - 1).abs() < TOLERANCE).all())
    lo, hi = float(rows.min()), float(rows.max())
    if softmax:
        return Flag(PROBABILITIES, True, f"outputs in [{lo:.3g}, {hi:.3g}], every row sums to 1 (a softmax)",
                    refused=True)
    if inside:
        noise = torch.rand(x.shape, generator=torch.Generator().manual_seed(0)).to(x)
        other = _forward(model, noise)
        inside = bool(((other >= -TOLERANCE) & (other <= 1 + TOLERANCE)).all())
        if inside:
            return Flag(PROBABILITIES, True, f"every output lies in [0, 1] ([{lo:.3g}, {hi:.3g}] on {len(x)} inputs, "
                                             f"and on {len(x)} uniform-noise images): sigmoids, or small logits")
        return Flag(PROBABILITIES, False, f"outputs in [{lo:.3g}, {hi:.3g}] on the inputs but "
                                          f"[{float(other.min()):.3g}, {float(other.max()):.3g}] on uniform noise: "
                                          "logits")
    return Flag(PROBABILITIES, False, f"outputs range over [{lo:.3g}, {hi:.3g}]"
                + (f", rows sum to {float(sums.min()):.3g}..{float(sums.max()):.3g}" if rows.shape[-1] > 1 else "")
                + ": logits")


def _zero_gradients(model, x, y, task) -> Flag:
    """AutoAttack's ``check_zero_gradients``: inputs whose gradient of the attacks' loss (the
    registry's cross-entropy, :func:`medadv_lib.attacks.tasks.attack_loss`) is zero or not finite."""
    from ..attacks import attack_loss

    delta = torch.zeros_like(x, requires_grad=True)
    loss = attack_loss(model(x + delta), y, task, "ce")
    (grad,) = torch.autograd.grad(loss.sum(), delta)
    flat = grad.flatten(1)
    bad = (flat.abs().sum(1) == 0) | ~torch.isfinite(flat).all(1)
    k = int(bad.sum())
    return Flag(ZERO_GRADIENTS, k > 0, f"{k} of {len(x)} inputs have a zero or non-finite input gradient of the "
                                       "attacks' cross-entropy")


def model_flags(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, task: str,
                device="cpu", n: int = PROBE_INPUTS) -> list[Flag]:
    """Randomness, probability outputs and zero gradients of ``model`` (eval mode, as the attacks
    run it) on the first ``n`` of ``images`` ([0, 1]) with ``labels``; the caller's model comes
    back as it was. Cheap (three forward passes and one backward on ``n`` inputs): run before any
    attack."""
    from ..attacks import caller_model_kept
    from ..utils import resolve_device

    dev = resolve_device(device)
    x, y = images[:n].float().to(dev), labels[:n].to(dev)
    with caller_model_kept(model):
        model.to(dev).eval()
        for p in model.parameters():
            p.requires_grad_(False)
        flags = [_randomness(model, x)]
        flags.append(_probabilities(model, x, _forward(model, x), task))
        flags.append(_zero_gradients(model, x, y, task))
    return flags


def control_flag(matrix: pd.DataFrame, model: str, norm: str | None = None) -> Flag:
    """The noise control, or PGD transferred from another model (rows of :mod:`medadv_lib.evaluation.rows`),
    beating ``model``'s white-box worst case at some budget (AutoAttack's ``check_square_sr``, with
    these controls in Square's place): raised when one leaves fewer inputs robust than every
    white-box attack together, on the same inputs."""
    from .rows import NOISE, TRANSFER, budget_label, outcomes, select_rows

    beaten, compared = [], []
    rows = select_rows(matrix, model, norm=norm)
    for _, row in rows[rows["attack"].isin([NOISE, TRANSFER])].iterrows():
        try:
            worst = outcomes(matrix, model, "worst", row["norm"], row["eps"])
        except KeyError:
            continue
        control, white = float(np.mean(row["robust"])), float(worst.mean())
        where = f"{row['attack']}" + (f" from {row['source']}" if isinstance(row.get("source"), str) else "")
        text = f"{where} at {row['norm']} {budget_label(row['norm'], row['eps'])}: {100 * control:.1f} % vs " \
               f"worst case {100 * white:.1f} %"
        compared.append(text)
        if control < white:
            beaten.append(text)
    if not compared:
        return Flag(CONTROL, None, "no noise or transfer control was run on this model")
    if beaten:
        return Flag(CONTROL, True, "; ".join(beaten))
    return Flag(CONTROL, False, f"{len(compared)} control cell(s) at or above the white-box worst case "
                                f"(e.g. {compared[-1]})")


def refusals(flags: list[Flag]) -> list[Flag]:
    """The raised flags ``medadv evaluate`` refuses a model for (randomness, softmax outputs)."""
    return [f for f in flags if f.raised and f.refused]


def flags_frame(flags: dict[str, list[Flag]]) -> pd.DataFrame:
    """One row per model, one column per flag: ``RAISED: evidence`` or ``not raised: evidence``."""
    table = {model: {f.name: f"{f.status}: {f.evidence}" for f in fl} for model, fl in flags.items()}
    frame = pd.DataFrame(table).T.reindex(columns=[f for f in FLAGS if any(f in r for r in table.values())])
    frame.index.name = "model"
    return frame


def format_flags(flags: dict[str, list[Flag]]) -> str:
    """Plain text, one line per model and flag, with what a raised flag means."""
    lines = []
    for model, fl in flags.items():
        lines.append(f"{model}:")
        lines += [f"  {f.line()}" for f in fl]
    return "\n".join(lines)

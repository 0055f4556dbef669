"""Issue 29, item 4: power before the run. Every chapter's default preset (the book) sizes its
samples so that `medadv run` names no claim as undecidable at its n."""
import pytest

from medadv_lib.verdicts import decidable_n, undecidable_claims
from medadv_lib.papers import papers
from medadv_lib.specs import resolve_parameters

@pytest.mark.parametrize("chapter", sorted(papers()))
def test_the_default_preset_can_decide_every_rate_threshold(chapter):
    spec = papers()[chapter]
    listed = undecidable_claims(spec.claims(), resolve_parameters(spec, "default", {}))
    assert listed == [], f"undecidable at the default preset: {listed}"


def test_the_matrix_default_attacks_enough_inputs_for_near_zero():
    """The matrix's 'near zero' check declares its n (n_inputs) and threshold, so its power is known
    before the run: the default preset's 40 inputs can decide it, the notebook's former 32 could not."""
    from medadv_lib.papers import get_paper
    from medadv_lib.evaluation.sanity import CLAIMS, NEAR_ZERO

    spec = get_paper("robustness-matrix")
    near = next(c for c in CLAIMS if c.id == "matrix-near-zero")
    assert near.rate_thresholds == {"near_zero": "below"}
    default = resolve_parameters(spec, "default", {})
    assert near.n_of(default) == default["n_inputs"] >= decidable_n(NEAR_ZERO) == 35
    assert near.undecidable(dict(default, n_inputs=32)) != []
    assert near.undecidable(default) == []

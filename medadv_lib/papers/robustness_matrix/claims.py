"""The robustness matrix's claims: the sanity checks of an adversarial evaluation (not a paper's
claims; Carlini et al. 2019, "On Evaluating Adversarial Robustness", Sec. 5, arXiv:1902.06705).
Their one home is the shared layer, :mod:`medadv_lib.evaluation.sanity` (where
:func:`medadv_lib.evaluate` reads them too); the chapter tests them on every model of the
collection (:func:`.experiment.claim_results`)."""
from __future__ import annotations

from ...evaluation.sanity import CLAIMS, NEAR_ZERO, PGD_SLACK

__all__ = ["CLAIMS", "NEAR_ZERO", "PGD_SLACK"]

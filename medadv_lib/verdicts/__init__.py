"""Verdicts: the papers' claims as data, the premises a test needs, the power of a sample, the
checked claims' record and their display. The chapters' claims (``papers/<chapter>/claims.py``),
the notebooks, the evaluation pages and the book import from here.

- :mod:`.claims`: :class:`Claim`, :class:`Outcome`, the verdicts and the rules that decide them;
- :mod:`.premises`: :class:`Premise` (per model), the stand-in and positive-control premises;
- :mod:`.power`: whether a sample can decide a rate's threshold;
- :mod:`.records`: the record a notebook emits and the book reads;
- :mod:`.display`: the claims table, the verdict counts, the data banner;
- :mod:`.replication`: verdicts and headline numbers across seeds.
"""
from .claims import (ALL, COMPARISON, EACH, FAILS, HOLDS, INCONCLUSIVE, KINDS, LEVEL, NOT_FROM_A_PAPER,
                     NOT_REPRODUCED, PAPER_FIDELITY, SCOPES, UNTESTED, VERDICTS, CheckedClaim, Claim, Fidelity,
                     Outcome, audit, check_claims, combine, count_verdicts, undecidable_claims, verdict_above,
                     verdict_below)
from .display import (NOT_PRINTED, above_chance, claims_frame, claims_report, counts_line, data_banner,
                      format_claims, premises_table)
from .power import POWER, decidable_n, power_premise
from .premises import POSITIVE_CONTROL, STAND_IN, Premise, stand_in
from .records import CLAIMS_MIME, ChapterRecord, ClaimRecord, RecordError, read_claims_outputs

__all__ = ["ALL", "COMPARISON", "EACH", "FAILS", "HOLDS", "INCONCLUSIVE", "KINDS", "LEVEL", "NOT_FROM_A_PAPER",
           "NOT_REPRODUCED", "PAPER_FIDELITY", "SCOPES", "UNTESTED", "VERDICTS", "CheckedClaim", "Claim",
           "Fidelity", "Outcome", "audit", "check_claims", "combine", "count_verdicts", "verdict_above",
           "verdict_below", "NOT_PRINTED", "above_chance", "claims_frame", "claims_report", "counts_line",
           "data_banner", "format_claims", "premises_table", "POWER", "decidable_n", "power_premise",
           "undecidable_claims", "POSITIVE_CONTROL", "STAND_IN", "Premise", "stand_in", "CLAIMS_MIME",
           "read_claims_outputs", "ChapterRecord", "ClaimRecord", "RecordError"]

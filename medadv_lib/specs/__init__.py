"""What a chapter is and what its parameters may be: :class:`PaperSpec`, :class:`Rule`, and the
parse-once, check-once path from a request to a run's parameters (:func:`resolve_parameters`).

This layer sits below the chapters (``medadv_lib.papers``), which declare a spec each, and below the
runners (``medadv_lib.running``), which execute one."""
from .paper import CHAPTERS_PACKAGE, REPO_ROOT, Hook, PaperSpec
from .parameters import (check_dataset, check_device, fidelity, merged_parameters, notebook_parameters, parse_value,
                         resolve_parameters, undecidable)
from .rules import COMMON_RULES, PRESETS, ParameterError, Rule, require

__all__ = ["CHAPTERS_PACKAGE", "COMMON_RULES", "Hook", "PRESETS", "REPO_ROOT", "PaperSpec", "ParameterError", "Rule",
           "check_dataset", "check_device", "fidelity", "merged_parameters", "notebook_parameters", "parse_value",
           "require", "resolve_parameters", "undecidable"]

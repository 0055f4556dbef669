"""medadv: reproducible adversarial attacks on medical-imaging classifiers.

Modules, one per concept: :mod:`~medadv_lib.data`, :mod:`~medadv_lib.models`,
:mod:`~medadv_lib.attacks`, :mod:`~medadv_lib.metrics`, :mod:`~medadv_lib.training`,
:mod:`~medadv_lib.explain`, :mod:`~medadv_lib.claims` hold what several chapters use; each paper has one
home, :mod:`medadv_lib.papers.<paper>` (its published numbers, experiments, claims, figures); the
notebooks and the ``medadv`` CLI sit on top (:mod:`~medadv_lib.runner`, :mod:`~medadv_lib.cli`).
"""
__version__ = "0.1.0"

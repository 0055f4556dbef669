"""medadv: reproducible adversarial attacks on medical-imaging classifiers.

Modules, one per concept: :mod:`~medadv_lib.data`, :mod:`~medadv_lib.models`,
:mod:`~medadv_lib.attacks`, :mod:`~medadv_lib.metrics`, :mod:`~medadv_lib.training`,
:mod:`~medadv_lib.explain`, :mod:`~medadv_lib.claims` hold what several chapters use
(:mod:`~medadv_lib.evaluation`: ``medadv_lib.evaluate(model, images, labels, ...)``, one model's
robustness-matrix row; :mod:`~medadv_lib.sanity_checks`: the checks it and the matrix run); each paper has one
home, :mod:`medadv_lib.papers.<paper>` (its published numbers, experiments, claims, figures); the
notebooks and the ``medadv`` CLI sit on top (:mod:`~medadv_lib.runner`, :mod:`~medadv_lib.cli`).
"""
__version__ = "0.1.0"

__all__ = ["evaluate", "Evaluation", "__version__"]


def __getattr__(name: str):
    """``medadv_lib.evaluate(model, images, labels, ...)`` (:func:`medadv_lib.evaluation.evaluate`),
    imported on first use so that ``import medadv_lib`` stays free of torch."""
    if name in ("evaluate", "Evaluation"):
        from . import evaluation

        return getattr(evaluation, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

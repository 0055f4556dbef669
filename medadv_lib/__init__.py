"""medadv: reproducible adversarial attacks on medical-imaging classifiers.

The layers, from the bottom (each imports only from those below it):

- foundations: :mod:`~medadv_lib.utils`, :mod:`~medadv_lib.cache`, :mod:`~medadv_lib.progress`;
- what several chapters use: :mod:`~medadv_lib.data`, :mod:`~medadv_lib.models`,
  :mod:`~medadv_lib.metrics`, :mod:`~medadv_lib.training`, :mod:`~medadv_lib.explain`,
  :mod:`~medadv_lib.attacks` (every attack behind one interface);
- :mod:`~medadv_lib.verdicts`: claims, premises, power, the record and its display;
- :mod:`~medadv_lib.specs`: what a chapter is and what its parameters may be (parse once, check once);
- :mod:`~medadv_lib.evaluation`: attacking any model (``medadv_lib.evaluate(model, images, labels,
  ...)``, one robustness-matrix row, its sanity checks and AutoAttack's flags, a user's own model);
- :mod:`~medadv_lib.papers`: one home per chapter (its spec, published numbers, experiments,
  claims, figures), discovered;
- :mod:`~medadv_lib.running`: a notebook run by papermill with its provenance, sweeps on Dask, the
  book's schedule;
- :mod:`~medadv_lib.book`: the book's build, its generated pages and the browser check;
- :mod:`~medadv_lib.cli`: the ``medadv`` command.
"""
__version__ = "0.1.0"

__all__ = ["evaluate", "Evaluation", "__version__"]


def __getattr__(name: str):
    """``medadv_lib.evaluate(model, images, labels, ...)`` (:func:`medadv_lib.evaluation.robustness.evaluate`),
    imported on first use so that ``import medadv_lib`` stays free of torch."""
    if name in ("evaluate", "Evaluation"):
        from .evaluation import robustness

        return getattr(robustness, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

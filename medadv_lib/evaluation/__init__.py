"""Attacking any model, the collection's or a user's: one robustness-matrix row per model.

- :mod:`.robustness`: ``evaluate(model, images, labels, ...)``, the row and its checks;
- :mod:`.rows`: the per-input rows, the white-box loop and their selection;
- :mod:`.sanity`: the sanity checks the row and the matrix run;
- :mod:`.flags`: AutoAttack's flags (refusals and warnings about a model or a run);
- :mod:`.user_models`: loading a user's model (a file, timm/torchvision, torchxrayvision weights);
- :mod:`.page`: the spec of the "Attack your own model" page (``medadv evaluate``);
- :mod:`.own_model`: the example model trained outside the collection's trainer.

Kept free of imports here, so that checking ``medadv evaluate``'s parameters stays cheap.
"""

"""Attacks: per-image attacks are Foolbox 3 attacks; universal perturbations live in ``attacks.uap``.

Import the submodules directly (``from medadv_lib.attacks.uap import universal_perturbation``);
this package imports nothing itself so that loading one attack never pulls in the others.
"""

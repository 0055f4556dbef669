"""Plotting: see the modules of this package."""

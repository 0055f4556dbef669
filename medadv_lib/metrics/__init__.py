"""Metrics, one submodule per kind of task; the common names are re-exported here."""
from .classification import (accuracy, class_sensitivity, confusion_matrix, fooling_rate,
                             targeted_success_rate)
from .perturbation import consecutive_cosine, perturbation_variance, share_positive_cosine
from .segmentation import dice, jaccard, per_image_jaccard

__all__ = ["accuracy", "class_sensitivity", "confusion_matrix", "fooling_rate",
           "targeted_success_rate", "consecutive_cosine", "perturbation_variance",
           "share_positive_cosine", "dice", "jaccard", "per_image_jaccard"]
from .perceptibility import perceptibility_level, perceptibility_table
from .roc import binary_accuracy, binary_auc

__all__ += ["perceptibility_level", "perceptibility_table", "binary_accuracy", "binary_auc"]

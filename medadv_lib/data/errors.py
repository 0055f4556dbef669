"""The data layer's one error type (torch-free, so that cheap checks can raise it before any heavy import)."""

__all__ = ["DataFileError"]


class DataFileError(ValueError):
    """A data file is missing, unreadable or malformed; the message names the path."""

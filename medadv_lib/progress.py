"""Progress bars where the user waits, never in the rendered book.

Every long loop of the library (training epochs and batches, attack sweeps, data loading) goes
through :func:`tqdm`, a drop-in for ``tqdm.auto.tqdm``:

* in an interactive session (Jupyter, a script) it *is* ``tqdm.auto.tqdm``: ordinary bars;
* under ``medadv run`` / ``medadv book`` the runner sets ``MEDADV_PROGRESS`` to a channel file;
  bars are then written there (plain text, with rate and ETA) and the runner shows the latest one
  on the terminal of whoever ran the command. Nothing reaches the executed notebook, so the pages
  stay clean whatever the cache state.

Callers keep their own ``disable=`` (a ``progress=False`` argument still silences a bar).
"""
from __future__ import annotations

import os
import warnings
from typing import Any

# Other libraries import tqdm.auto too (timm through huggingface_hub); in a kernel without ipywidgets its import
# warns "IProgress not found" into the notebook. Import it once here, silenced; later imports reuse the module.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import tqdm.auto  # noqa: F401

__all__ = ["tqdm", "CHANNEL_ENV", "channel_path"]

CHANNEL_ENV = "MEDADV_PROGRESS"
_channel = None


def channel_path() -> str | None:
    """The runner's progress channel (a file path) when running under ``medadv run``, else None."""
    return os.environ.get(CHANNEL_ENV) or None


def _channel_handle():
    global _channel
    path = channel_path()
    if _channel is None or _channel.name != path:
        _channel = open(path, "a", buffering=1, encoding="utf-8")  # line-buffered text
    return _channel


def tqdm(iterable: Any = None, *args, **kwargs):
    """``tqdm.auto.tqdm`` interactively; a bar on the runner's progress channel under ``medadv run``."""
    if channel_path() is None:
        from tqdm.auto import tqdm as auto_tqdm

        return auto_tqdm(iterable, *args, **kwargs)
    from tqdm.std import tqdm as plain_tqdm

    kwargs["file"] = _channel_handle()
    kwargs.setdefault("disable", False)          # an explicit value overrides TQDM_DISABLE
    kwargs.setdefault("mininterval", 0.5)
    kwargs["ascii"] = True
    kwargs["dynamic_ncols"] = False
    kwargs.setdefault("ncols", 100)
    kwargs.pop("position", None)
    return plain_tqdm(iterable, *args, **kwargs)

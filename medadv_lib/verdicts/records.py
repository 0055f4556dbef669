"""The machine-readable record of a chapter's checked claims: written by a notebook under its own
mime type, read back by the book (scoreboard, summary) and by replication across seeds."""
from __future__ import annotations

import json

__all__ = ["CLAIMS_MIME", "read_claims_outputs"]

#: The mime type under which a chapter emits its checked claims (read back by the book's scoreboard).
CLAIMS_MIME = "application/vnd.medadv.claims+json"


def read_claims_outputs(notebook) -> list[dict]:
    """The claim records a notebook (an ``nbformat`` node) emitted, in order."""
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = output.get("data", {})
            if CLAIMS_MIME in data:
                payload = data[CLAIMS_MIME]
                found.append(json.loads(payload) if isinstance(payload, str) else payload)
    return found

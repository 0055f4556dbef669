"""Nwadike et al. 2020's tables for the replication page (:mod:`medadv_lib.verdicts.replication`): Table 1
(each metric's maximum over epochs, mean +- sd over the paper's 4 seeds) as one run printed it."""
from __future__ import annotations

from typing import Any

from ...verdicts.replication import OURS, cell_text
from .published import PUBLISHED

__all__ = ["TABLES", "table1"]


def table1(notebook) -> list[dict[str, Any]]:
    """Nwadike et al.'s Table 1 as our run printed it (the checked cell printing
    ``table1.xs("ours", ...)``): one metric per row and trigger column, ``Table 1 ASR_p0.6, 1x1``,
    with the paper's mean and sd over its 4 seeds where it prints the cell."""
    table = PUBLISHED["table1_max_over_epochs"]
    cell = next((c for c in notebook.cells if c.cell_type == "code" and 'table1.xs("ours"' in c.source), None)
    if cell is None:
        return []
    lines = [line for line in cell_text(cell).splitlines() if line.strip()]
    if len(lines) < 3:
        return []
    columns, found = lines[0].split(), []
    for line in lines[2:]:                         # the header, the index name, then one row per metric
        metric, _, rest = line.strip().partition(" ")
        values = [float(m[1]) if m[1] else None for m in OURS.finditer(rest)]
        if len(values) != len(columns) or metric not in table:
            continue
        for column, value in zip(columns, values):
            paper = table[metric][table["columns"].index(column)] if column in table["columns"] else None
            found.append({"name": f"Table 1 {metric}, {column}", "source": "Table 1", "value": value,
                          "unit": "", "paper": None if paper is None else {"mean": paper[0], "sd": paper[1],
                                                                             "seeds": 4}})
    return found


#: The readers :func:`medadv_lib.verdicts.replication.chapter_tables` finds for this chapter.
TABLES = [table1]

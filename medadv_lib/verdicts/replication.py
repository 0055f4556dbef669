"""What a sweep's cells say together: each claim's verdicts over the cells and the headline metrics'
mean, standard deviation and range, and the book's replication page built from them.

It reads executed notebooks (``nbformat``) and does its arithmetic with numpy.

* **Claims.** Every executed notebook emits its checked claims under
  :data:`medadv_lib.verdicts.claims.CLAIMS_MIME` (:func:`~medadv_lib.verdicts.claims.read_claims_outputs`). Per
  claim we count its verdicts over the cells of a group ("holds in k of m") and call it
  *stable* when every cell gave the same verdict, *unstable* when its decided verdict flips (it
  holds in one cell and does not hold in another) and *not always decided* otherwise (decided in
  some cells, inconclusive or untestable in others, never contradicting itself).
* **Headline metrics**, from two sources:

  1. every estimate a claim's evidence prints (``value [low, high]``, 95 % interval), named
     ``claim id: case``: the numbers each verdict rests on, for every chapter;
  2. a small per-chapter list (:func:`chapter_tables`, each paper's own ``replication`` module):
     tables the paper prints with a spread over seeds. Today one: Nwadike et al.'s Table 1
     (:func:`medadv_lib.papers.backdoor.replication.table1`).

  Over the cells of a group: mean, sample standard deviation (``ddof=1``; none for one cell),
  minimum and maximum, and n (the cells that printed the number).
* **Groups.** A sweep replicates over ``seed``: cells that share every other grid value (a
  dataset, a preset parameter) form one group, and claims and metrics are summarised per group.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from .claims import FAILS, HOLDS, NOT_REPRODUCED, VERDICTS
from .records import read_claims_outputs

__all__ = ["REPLICATE_AXIS", "STABLE", "UNSTABLE", "PARTLY", "parse_estimates", "summarise",
           "claim_verdicts", "headline_metrics", "aggregate", "cell_text", "OURS", "NUMBER",
           "replication_markdown", "stability"]

#: The grid parameter a sweep replicates over; every other grid parameter separates groups.
REPLICATE_AXIS = "seed"
STABLE, UNSTABLE, PARTLY = "stable", "unstable", "not always decided"

NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_ESTIMATE = re.compile(rf"(?P<value>{NUMBER})\s*\[(?P<lo>{NUMBER}),\s*(?P<hi>{NUMBER})\]\s*(?P<unit>%|points)?")


def parse_estimates(evidence: str) -> list[dict[str, Any]]:
    """The estimates a claim's evidence prints, ``value [low, high]`` (with ``%`` or ``points``
    when printed), each with its case: the text before the number in its ``;``-separated part
    (``"Small Linf: 0.540 [0.460, 0.618] vs 0.85"`` gives case ``Small Linf``)."""
    found = []
    for part in str(evidence).split("; "):
        for match in _ESTIMATE.finditer(part):
            case = part[:match.start()].strip().rstrip(":").strip()
            found.append({"case": case, "value": float(match["value"]), "low": float(match["lo"]),
                          "high": float(match["hi"]), "unit": match["unit"] or ""})
    return found


def summarise(values: Iterable[float | None]) -> dict[str, Any]:
    """n, mean, sample sd (``ddof=1``, None for n < 2), min and max of the values that are numbers."""
    xs = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if xs.size == 0:
        return {"n": 0, "mean": None, "sd": None, "min": None, "max": None}
    return {"n": int(xs.size), "mean": float(xs.mean()), "sd": float(xs.std(ddof=1)) if xs.size > 1 else None,
            "min": float(xs.min()), "max": float(xs.max())}


def stability(verdicts: Iterable[str]) -> str:
    """:data:`STABLE` (one verdict everywhere), :data:`UNSTABLE` (holds somewhere, does not hold or
    is not reproduced at this scale elsewhere: a decided verdict that flips) or :data:`PARTLY`
    (decided in some cells only)."""
    seen = set(verdicts)
    if len(seen) <= 1:
        return STABLE
    if HOLDS in seen and (FAILS in seen or NOT_REPRODUCED in seen):
        return UNSTABLE
    return PARTLY


# ------------------------------------------------------------------------ the chapters' tables

def cell_text(cell) -> str:
    """The text a notebook cell printed (its stream outputs), for a paper's table readers."""
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


#: One printed value, optionally followed by ``± sd`` (group 1), or any other token (group 2).
OURS = re.compile(rf"({NUMBER})(?:\s*±\s*{NUMBER})?|(\S+)")


def headline_metrics(notebook, claim_records: Iterable[Mapping],
                     tables: Iterable[Callable] = ()) -> list[dict[str, Any]]:
    """One run's headline numbers: the chapter's tables (``tables``: the readers its spec declares,
    :meth:`medadv_lib.specs.PaperSpec.replication_tables`), then every estimate its claims'
    evidence prints."""
    found = [m for reader in tables for m in reader(notebook)]
    for record in claim_records:
        names: dict[str, int] = {}
        for est in parse_estimates(record.get("evidence", "")):
            name = f"{record['id']}: {est['case']}" if est["case"] else record["id"]
            names[name] = names.get(name, 0) + 1
            if names[name] > 1:
                name = f"{name} ({names[name]})"
            found.append({"name": name, "source": "claim", "claim": record["id"], "value": est["value"],
                          "unit": est["unit"], "paper": None})
    return found


# ------------------------------------------------------------------------ over the cells

def _group_of(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k != REPLICATE_AXIS}


def _group_label(group: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in group.items()) or "all cells"


def claim_verdicts(cells: list[dict]) -> list[dict[str, Any]]:
    """Per group and claim: each cell's verdict, the counts, ``holds in k of m`` and the stability.
    ``cells``: dicts with ``label``, ``values`` and ``claims`` (the records the notebook emitted)."""
    out: dict[tuple, dict] = {}
    for cell in cells:
        group = _group_of(cell["values"])
        for record in cell["claims"]:
            key = (_group_label(group), record["chapter"], record["id"])
            entry = out.setdefault(key, {
                "group": group, "group_label": key[0], "chapter": record["chapter"], "id": record["id"],
                "claim": record["claim"], "where": record.get("where", ""),
                "paper_verdict": record.get("paper_verdict", ""), "run": record.get("run", ""),
                "verdicts": {}, "labels": {}})
            entry["verdicts"][cell["label"]] = record["verdict"]
            entry["labels"][cell["label"]] = record.get("label", record["verdict"])
            for premise in record.get("premises", []):
                entry.setdefault("premise_met", {}).setdefault(premise["name"], []).append(bool(premise["met"]))
    for entry in out.values():
        # a premise met in some cells and not in others sits on its threshold's edge: the verdict it
        # gates is reported over the cells, never from one (issue 29)
        met = entry.pop("premise_met", {})
        entry["premises"] = {name: f"met in {sum(v)} of {len(v)}" for name, v in met.items()}
        entry["unstable_premises"] = [name for name, v in met.items() if 0 < sum(v) < len(v)]
        verdicts = list(entry["verdicts"].values())
        entry["m"] = len(verdicts)
        entry["counts"] = {v: verdicts.count(v) for v in VERDICTS}
        entry["holds"] = f"holds in {entry['counts'][HOLDS]} of {entry['m']}"
        entry["stability"] = stability(verdicts)
        # what a reader needs first: one verdict everywhere is named ("cannot be tested in 4 of 4"
        # is no "holds in 0 of 4"); otherwise how often it holds
        entry["summary"] = (f"{verdicts[0]} in {entry['m']} of {entry['m']}"
                            if entry["stability"] == STABLE and verdicts else entry["holds"])
    return list(out.values())


def metric_summaries(cells: list[dict]) -> list[dict[str, Any]]:
    """Per group and headline metric: each cell's value and their :func:`summarise`."""
    out: dict[tuple, dict] = {}
    for cell in cells:
        group = _group_of(cell["values"])
        for metric in cell["metrics"]:
            key = (_group_label(group), metric["name"])
            entry = out.setdefault(key, {"group": group, "group_label": key[0], "name": metric["name"],
                                         "source": metric["source"], "unit": metric.get("unit", ""),
                                         "paper": metric.get("paper"), "values": {}})
            entry["values"][cell["label"]] = metric["value"]
    for entry in out.values():
        entry.update(summarise(entry["values"].values()))
    return list(out.values())


def aggregate(cells: list[dict], root: Path, tables: Iterable[Callable] = ()) -> dict[str, Any]:
    """Claims and metrics of the sweep's finished cells. ``cells``: the sweep's cell entries
    (``status``, ``label``, ``values``, ``notebook`` relative to ``root``); ``tables``: the readers
    of the chapter's headline tables, handed in by whoever holds its spec."""
    import nbformat

    done = []
    for cell in cells:
        if cell.get("status") != "ok" or not cell.get("notebook"):
            continue
        nb = nbformat.read(Path(root) / cell["notebook"], as_version=4)
        records = [r for block in read_claims_outputs(nb, where=cell["notebook"]) for r in block["claims"]]
        done.append({"label": cell["label"], "values": cell["values"], "claims": records,
                     "metrics": headline_metrics(nb, records, tables)})
    return {"claims": claim_verdicts(done), "metrics": metric_summaries(done)}


# ------------------------------------------------------------------------ the book's page

def _fmt(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "–"
    return f"{x:.{digits}g}" if abs(x) >= 1000 or (x != 0 and abs(x) < 1e-3) else f"{x:.{digits}f}"


def _mean_sd(entry: Mapping) -> str:
    if entry.get("mean") is None:
        return "not printed"
    text = _fmt(entry["mean"]) + (f" ± {_fmt(entry['sd'])}" if entry.get("sd") is not None else "")
    return text + (f" {entry['unit']}" if entry.get("unit") else "")


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def replication_markdown(record: Mapping, name: str) -> str:
    """The book's replication page of one sweep (``record``: its ``sweep.json``)."""
    cells = record["cells"]
    ok = [c for c in cells if c["status"] == "ok"]
    grid = ", ".join(f"`{k}` in {v}" for k, v in record["grid"].items())
    engine = record.get("engine") or {}
    lines = [f"# Replication: {record['title']}", "",
             f"*{record['paper']}* at the `{record['preset']}` preset over the grid {grid}: "
             f"{len(ok)} of {len(cells)} cells finished. Each cell is one `medadv run` (one papermill "
             f"notebook with its provenance), run by `medadv sweep` on {engine.get('name', 'Dask')}"
             + (f" ({engine['cluster']})" if engine.get("cluster") else "") + ". "
             "Our 95 % intervals cover the sampling of test images; the spread below is that of "
             "training (weights, data order, the synthetic draw), which the intervals do not see.", ""]
    data = sorted({c.get("data", "") for c in ok if c.get("data")})
    if data:
        lines += [f"Data: {', '.join(data)}.", ""]
    lines += ["## Claims over the cells", "",
              "Per claim: its verdict in each cell, how many cells it holds in, and whether the verdict "
              "is *stable* (the same in every cell), *unstable* (it holds in one cell and does not hold "
              "in another) or *not always decided* (inconclusive or untestable in some cells).", ""]
    labels = [c["label"] for c in ok]
    for group in dict.fromkeys(e["group_label"] for e in record["claims"]):
        entries = [e for e in record["claims"] if e["group_label"] == group]
        if group != "all cells":
            lines += [f"### {group}", ""]
        # over the cells and the stability next to the claim (no scrolling to find them)
        lines += ["| claim | over the cells | stability | paper's numbers | "
                  + " | ".join(_cell(lab) for lab in labels) + " |", "|" + "---|" * (4 + len(labels))]
        for e in entries:
            stab = f"**{e['stability']}**" if e["stability"] == UNSTABLE else e["stability"]
            row = [f"{e['claim']} (`{e['id']}`)", e.get("summary", e["holds"]), stab, e["paper_verdict"]]
            row += [e["labels"].get(lab, "not run") for lab in labels]
            lines.append("| " + " | ".join(_cell(x) for x in row) + " |")
        lines.append("")
    if not record["claims"]:
        lines += ["No finished cell emitted claims.", ""]
    paper_rows = [m for m in record["metrics"] if m.get("paper")]
    if paper_rows:
        lines += ["## Our mean ± sd beside the paper's", "",
                  f"Mean ± sample standard deviation over our cells (n), and the paper's mean ± sd over its "
                  f"{paper_rows[0]['paper'].get('seeds', '')} seeds. Our numbers come from the data named "
                  "above; a synthetic-data number is never the paper's result.", "",
                  "| metric | group | ours: mean ± sd | n | range | paper: mean ± sd |", "|---|---|---|---|---|---|"]
        for m in paper_rows:
            paper = m["paper"]
            lines.append(f"| {_cell(m['name'])} | {_cell(m['group_label'])} | {_mean_sd(m)} | {m['n']} | "
                         f"{_fmt(m['min'])} to {_fmt(m['max'])} | {_fmt(paper['mean'])} ± {_fmt(paper['sd'])} |")
        lines.append("")
    claim_rows = [m for m in record["metrics"] if not m.get("paper")]
    if claim_rows:
        lines += ["## The numbers behind the verdicts", "",
                  "Every estimate the claims' evidence prints, over the cells.", "",
                  "| estimate | group | mean ± sd | n | range |", "|---|---|---|---|---|"]
        for m in claim_rows:
            lines.append(f"| {_cell(m['name'])} | {_cell(m['group_label'])} | {_mean_sd(m)} | {m['n']} | "
                         f"{_fmt(m['min'])} to {_fmt(m['max'])} |")
        lines.append("")
    lines += ["## The cells", "", "| cell | status | run time | worker |", "|---|---|---|---|"]
    for c in cells:
        status = c["status"] + (" (done before)" if c.get("computed") is False and c["status"] == "ok" else "")
        seconds = f"{c['seconds']:.0f} s" if c.get("seconds") is not None else ""
        lines.append(f"| {_cell(c['label'])} | {_cell(status)} | {seconds} | {_cell(c.get('worker') or '')} |")
    lines += ["", f"Sweep folder `{name}`; engine {engine.get('name', '')} {engine.get('version', '')}"
              + (f", scheduler {engine['scheduler']}" if engine.get("scheduler") else "") + "."]
    return "\n".join(lines) + "\n"

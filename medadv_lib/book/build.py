"""Build the reproduction report: execute every notebook, write the status page, run Jupyter Book.

Jupyter Book 1.x is run with ``execute_notebooks: off`` (``_config.yml``) on the copies papermill
executed into ``book/notebooks/``: its own cache would not notice library changes. The build runs
with ``-W --keep-going`` so any warning (a broken reference, a missing file, an unreadable
notebook) fails it, and a notebook that failed to execute stops the build before it starts.

The runs are independent processes (each its own kernel), so :func:`execute_all` runs ``jobs`` of
them side by side, each kernel at ``cpu_count // jobs`` torch threads (on 2 cores: two runs at 1
thread each do 1.4-1.9x the work of one at 2 threads on these models). The robustness matrix's
pages start only after the chapters' runs on their dataset have finished: they attack the
chapters' models, which then come from the model cache (concurrent runs share it safely,
:mod:`medadv_lib.cache`).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..specs import REPO_ROOT, resolve_parameters
from ..papers import papers
from ..running.provenance import read_records
from ..running.runner import RunError, run_notebook
from ..utils import atomic_write

__all__ = ["BOOK_NOTEBOOKS", "execute_all", "run_dependencies", "default_jobs", "write_status_page",
           "write_scoreboard", "build_book", "execute_own_model", "BookError", "collect_claims", "Replication", "BOOK_REPLICATIONS",
           "find_sweeps", "run_replications", "write_replication_pages"]

BOOK_NOTEBOOKS = REPO_ROOT / "book" / "notebooks"
STATUS_PAGE = REPO_ROOT / "book" / "status.md"
SCOREBOARD_PAGE = REPO_ROOT / "book" / "scoreboard.md"
#: One line per chapter (n of m claims hold), included by the intro page.
CLAIMS_SUMMARY = REPO_ROOT / "book" / "claims-summary.md"
#: The replications part: an index page and one page per sweep (``medadv book --sweeps DIR``).
REPLICATIONS_PAGE = REPO_ROOT / "book" / "replications.md"
REPLICATIONS_DIR = REPO_ROOT / "book" / "replications"
#: Where ``medadv book`` runs the book's own sweeps (:data:`BOOK_REPLICATIONS`).
BOOK_SWEEPS = REPO_ROOT / "book" / "sweeps"


class BookError(RuntimeError):
    pass


DATA_DIR_ENV = "MEDADV_DATA_DIR"


def book_runs(data_dir: Path | None = None, names: list[str] | None = None) -> list[tuple[str, dict]]:
    """Every run of the book: each chapter on the synthetic default, then on every real dataset it
    accepts whose folder (named as in ``../shared/data/``) is found under ``data_dir``.
    Returns ``(paper, overrides)`` pairs."""
    from ..data.registry import find_data

    found = find_data(data_dir) if data_dir else {}
    runs = []
    for name, spec in papers().items():
        if names and name not in names:
            continue
        runs.append((name, {}))
        for dataset in spec.datasets:
            if dataset != "synthetic" and dataset in found:
                runs.append((name, {"dataset": dataset, "data_root": str(found[dataset])}))
    return runs


#: Papers whose runs attack the models the chapters train (and train none of their own): each of
#: their runs waits for the chapters' runs on the same dataset (the specs with ``runs_after``).
AFTER_CHAPTERS = tuple(name for name, spec in papers().items() if spec.runs_after)
#: At most this many runs side by side by default (each kernel holds its data and models).
MAX_DEFAULT_JOBS = 4


def _dataset(overrides: dict) -> str:
    return overrides.get("dataset", "synthetic")


def run_dependencies(runs: list[tuple[str, dict]]) -> list[set[int]]:
    """For each run (as :func:`book_runs` lists them), the indices of the runs it waits for: a
    page of :data:`AFTER_CHAPTERS` waits for every chapter run on its dataset."""
    deps = []
    for name, overrides in runs:
        if name in AFTER_CHAPTERS:
            deps.append({k for k, (other, o) in enumerate(runs)
                         if other not in AFTER_CHAPTERS and _dataset(o) == _dataset(overrides)})
        else:
            deps.append(set())
    return deps


def default_jobs() -> int:
    """Runs side by side by default: one per CPU core, at most :data:`MAX_DEFAULT_JOBS`
    (``$MEDADV_JOBS`` overrides)."""
    env = os.environ.get("MEDADV_JOBS")
    if env:
        return max(1, int(env))
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_JOBS))


#: Where each run of the book keeps its log (``cell.log``) and bookkeeping, apart from the pages.
RUN_LOGS = REPO_ROOT / "_build" / "runs"


def book_jobs(preset: str, names: list[str] | None = None, data_dir: Path | None = None,
              evaluations: list[str] | None = None, replications=(), out_dir: Path = BOOK_NOTEBOOKS,
              sweeps_root: Path = BOOK_SWEEPS) -> tuple[list, dict]:
    """The book's one schedule (:mod:`medadv_lib.running.schedule`, issue 31): a job per run of
    :func:`book_runs` (a matrix page after the chapters' runs on its dataset), per evaluation page
    and per replication cell not finished before. The cell that is the book's own run (same paper,
    preset and parameters) is no job: it is adopted when that page is done. Returns the jobs and,
    per page job, the cells that adopt it: ``{job name: [(spec, preset, cell, sweep folder)]}``."""
    from ..evaluation.page import SPEC as EVALUATE
    from ..papers import get_paper
    from ..running.schedule import Job, expected_seconds
    from ..running.sweep import finished_entry, parameter_key, plan_cells

    runs = book_runs(data_dir, names)
    specs = [get_paper(name) for name, _ in runs]
    run_names = [spec.run_name(resolve_parameters(spec, preset, o)) for spec, (_, o) in zip(specs, runs)]
    jobs, pages = [], {}
    for spec, (name, overrides), run, deps in zip(specs, runs, run_names, run_dependencies(runs)):
        jobs.append(Job(run, spec, preset, overrides, Path(out_dir), tuple(run_names[d] for d in sorted(deps)),
                        expected_seconds(spec, preset, run, out_dir), RUN_LOGS / run))
        pages[parameter_key(spec.name, preset, resolve_parameters(spec, preset, overrides))] = run
    for file in evaluations or []:
        overrides = evaluation_overrides(file)
        run = EVALUATE.run_name(resolve_parameters(EVALUATE, preset, overrides))
        jobs.append(Job(run, EVALUATE, preset, overrides, Path(out_dir), (),
                        expected_seconds(EVALUATE, preset, run, out_dir), RUN_LOGS / run))
    adopt: dict[str, list] = {}
    for rep in [r for r in replications if names is None or r.paper in names]:
        spec, rep_preset = get_paper(rep.paper), rep.preset or preset
        root = Path(sweeps_root) / rep.name
        for cell in plan_cells(spec, rep_preset, dict(rep.grid)):
            if cell.key in pages and rep_preset == preset:
                adopt.setdefault(pages[cell.key], []).append((spec, rep_preset, cell, root))
            elif finished_entry(spec, rep_preset, cell, root) is None:
                jobs.append(Job(f"{rep.name}/{cell.label}", spec, rep_preset, cell.overrides, root / cell.folder,
                                (), expected_seconds(spec, rep_preset), root / cell.folder,
                                replication=rep.name))
    return jobs, adopt


def execute_all(preset: str, names: list[str] | None = None, out_dir: Path = BOOK_NOTEBOOKS,
                progress: bool = True, data_dir: Path | None = None, jobs: int | None = None,
                evaluations: list[str] | None = None, replications=(), engine=None,
                on_done=None, worker=None, sweeps_root: Path | None = None) -> list[str]:
    """Execute every run of the book as one schedule (:func:`book_jobs`) on the sweeps' engine
    (``engine``: :class:`~medadv_lib.running.engine.EngineOptions`; default a LocalCluster of ``jobs``
    workers, :func:`default_jobs`, each run at ``cores / jobs`` torch threads); return the failure
    messages (empty: all good). ``replications``' cells run in the same schedule; the book's own
    run is adopted as its seed-0 cell. ``on_done(result, state)`` after each run (the early
    book). Executed real-data runs that this build did not make (another data folder) are removed,
    so the book shows exactly this build's runs. ``worker``: a stand-in for the run of one job (tests)."""
    from ..running.schedule import run_jobs
    from ..running.engine import EngineOptions, open_engine

    planned, adopt = book_jobs(preset, names, data_dir, evaluations, replications, Path(out_dir),
                               Path(sweeps_root) if sweeps_root else BOOK_SWEEPS)
    if not planned:
        return []
    n = max(1, min(jobs or default_jobs(), len(planned)))
    engine = engine or EngineOptions(workers=n, threads=max(1, (os.cpu_count() or 1) // n))
    failures, made = [], set()

    def done(result, state):
        if result.status == "ok" and result.job.replication is None:
            made.add(result.job.name)
            for spec, rep_preset, cell, root in adopt.get(result.job.name, []):
                if adopt_book_run(spec, rep_preset, cell, root, Path(out_dir)):
                    print(f"== {result.job.name} is also the cell {cell.label} of {root.name}: reused, "
                          "not run again", flush=True)
        elif result.status != "ok":
            log = Path(result.job.work or result.job.out) / "cell.log"
            failures.append(f"{result.job.name}: {result.error or result.status} (log: {log})")
        if on_done is not None:
            on_done(result, state)

    with open_engine(engine, len(planned)) as eng:
        run_jobs(planned, eng, worker=worker, on_done=done)
    if not failures and not names:
        for stale in Path(out_dir).glob("*--*.ipynb"):
            if stale.stem not in made and not stale.name.endswith(".failed.ipynb"):
                stale.unlink()
                stale.with_name(f"{stale.stem}.provenance.json").unlink(missing_ok=True)
    return failures


@dataclass(frozen=True)
class Replication:
    """A sweep the book runs itself (``medadv book``, unless ``--no-replicate``): ``paper`` over ``grid`` at
    ``preset`` (None: the book's preset), into ``book/sweeps/<name>/``."""

    paper: str
    grid: dict = field(default_factory=lambda: {"seed": [0, 1, 2, 3]})
    preset: str | None = None

    @property
    def name(self) -> str:
        return self.paper + "".join(f"-{k}{len(v)}" for k, v in self.grid.items())


#: The sweeps each chapter's spec declares (``replication``), run by every ``medadv book`` at the
#: book's preset (``--no-replicate`` leaves them out; see the README for what it costs): today
#: Nwadike et al.'s protocol (backdoor's Table 1: mean +- sd over 4 seeds).
BOOK_REPLICATIONS = tuple(Replication(name, {k: list(v) for k, v in spec.replication.items()})
                          for name, spec in papers().items() if spec.replication)
#: ``medadv book --replicate all`` (opt-in; issue 29): every chapter over these seeds (the book's
#: own replications keep theirs), so that each verdict on the scoreboard says in how many seeds it
#: holds. The matrix pages (:data:`AFTER_CHAPTERS`) read the chapters' models and are not replicated.
REPLICATE_ALL_SEEDS = (0, 1, 2)
#: What ``--replicate`` runs: the book's own replications, every chapter's, or none.
REPLICATE_SCOPES = ("book", "all", "none")


def all_replications() -> tuple[Replication, ...]:
    """:data:`BOOK_REPLICATIONS` and every other chapter over :data:`REPLICATE_ALL_SEEDS`."""
    own = {r.paper for r in BOOK_REPLICATIONS}
    return BOOK_REPLICATIONS + tuple(Replication(name, {"seed": list(REPLICATE_ALL_SEEDS)}) for name in papers()
                                     if name not in own and name not in AFTER_CHAPTERS)


def adopt_book_run(spec, preset: str, cell, root: Path, book_dir: Path = BOOK_NOTEBOOKS) -> bool:
    """Seed a replication's cell with the book's own run when it is that run (same paper, preset and
    resolved parameters: the key of its provenance), so no run is executed twice (the seed-0 cell);
    True when it did. A cell already finished, or a book run that differs, is left alone."""
    from ..running.sweep import finished_entry, parameter_key

    notebook, prov = book_dir / f"{cell.run_name}.ipynb", book_dir / f"{cell.run_name}.provenance.json"
    if finished_entry(spec, preset, cell, root) is not None or not (notebook.is_file() and prov.is_file()):
        return False
    try:
        record = json.loads(prov.read_text())
    except (OSError, ValueError):
        return False
    if record.get("status") != "ok" or parameter_key(spec.name, record.get("preset"),
                                                    record.get("parameters", {})) != cell.key:
        return False
    folder = Path(root) / cell.folder
    folder.mkdir(parents=True, exist_ok=True)
    for source in (notebook, prov):
        with atomic_write(folder / source.name, "wb") as handle:
            handle.write(source.read_bytes())
    return True


def run_replications(preset: str, replications=BOOK_REPLICATIONS, root: Path = BOOK_SWEEPS,
                     names: list[str] | None = None) -> list[Path]:
    """Each replication (of a chapter in ``names``; None: all) as a sweep folder with its
    ``sweep.json``: in ``medadv book`` its cells have run in the book's schedule
    (:func:`execute_all`), so this computes nothing; alone, it runs the cells not finished with
    ``medadv sweep``'s engine (a LocalCluster). Returns the sweep folders."""
    from ..papers import get_paper
    from ..running.sweep import plan_cells, run_sweep

    folders, failures = [], []
    for rep in [r for r in replications if names is None or r.paper in names]:
        spec, rep_preset = get_paper(rep.paper), rep.preset or preset
        print(f"== replication {rep.name} (preset {rep_preset})", flush=True)
        cells = plan_cells(spec, rep_preset, dict(rep.grid))
        adopted = [c.label for c in cells if adopt_book_run(spec, rep_preset, c, Path(root) / rep.name)]
        if adopted:
            print(f"   the book's own run is the cell {', '.join(adopted)}: reused, not run again", flush=True)
        result = run_sweep(spec, rep_preset, cells, Path(root) / rep.name, grid=dict(rep.grid))
        failures += [f"{rep.name}: cell {label} failed" for label in result.failed]
        folders.append(Path(root) / rep.name)
    if failures:
        raise BookError("replication cells failed; the book was not built:\n" + "\n".join(failures))
    return folders


def find_sweeps(dirs) -> list[Path]:
    """The sweep folders (holding ``sweep.json``) given, or found one level below those given."""
    found = []
    for d in dirs or []:
        d = Path(d)
        if (d / "sweep.json").is_file():
            found.append(d)
        elif d.is_dir() and sorted(d.glob("*/sweep.json")):
            found += [p.parent for p in sorted(d.glob("*/sweep.json"))]
        else:
            raise BookError(f"no sweep.json in {d} or its folders (run `medadv sweep ... --out {d}` first)")
    return list(dict.fromkeys(found))


def _page_name(record: dict, folder: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", f"{record['paper']}--{folder.name}").strip("-")


def write_replication_pages(sweep_dirs, folder: Path = REPLICATIONS_DIR,
                            index: Path = REPLICATIONS_PAGE) -> list[dict]:
    """One page per sweep in ``folder`` (stale pages removed) and the part's index page; returns
    the sweeps' records (for the scoreboard)."""
    from ..verdicts.replication import replication_markdown

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    records, pages = [], []
    for sweep in find_sweeps(sweep_dirs):
        record = json.loads((sweep / "sweep.json").read_text())
        name = _page_name(record, sweep)
        with atomic_write(folder / f"{name}.md", "w") as handle:
            handle.write(replication_markdown(record, sweep.name))
        records.append(dict(record, page=f"replications/{name}"))
        pages.append(name)
    for stale in folder.glob("*.md"):
        if stale.stem not in pages:
            stale.unlink()
    lines = ["# Replication across seeds", "",
             "Every verdict of a chapter rests on one training seed, and our intervals cover the sampling "
             "of test images only. Training's own randomness (weight initialisation, data order) often "
             "moves a result more than the effects compared (Bouthillier et al. 2021). A replication runs "
             "a chapter over several seeds with `medadv sweep` (Dask) and reports each claim's verdict in "
             "k of m seeds, and the headline numbers' mean ± sd beside the paper's where it prints one.", ""]
    if records:
        lines += ["| replication | cells | claims unstable across the cells |", "|---|---|---|"]
        for r in records:
            unstable = sum(c["stability"] == "unstable" for c in r["claims"])
            ok = sum(c["status"] == "ok" for c in r["cells"])
            lines.append(f"| {{doc}}`{r['page']}` | {ok} of {len(r['cells'])} | {unstable} of {len(r['claims'])} |")
    else:
        lines += ["No replication in this build: `medadv sweep NAME --grid 'seed=[0,1,2,3]' --out DIR`, then "
                  "`medadv book --sweeps DIR` (`medadv book` runs the book's own unless `--no-replicate`)."]
    with atomic_write(index, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return records


def _across_seeds(sweeps: list[dict]) -> dict[tuple, str]:
    """Per (chapter, claim id): how its verdict fares across the cells of every sweep."""
    out: dict[tuple, list[str]] = {}
    for record in sweeps:
        for c in record["claims"]:
            against = c["counts"].get("does not hold", 0) + c["counts"].get("not reproduced at this scale", 0)
            text = (f"**unstable**: holds in {c['counts']['holds']}, fails (at this scale or the paper's) in "
                    f"{against} of {c['m']}" if c["stability"] == "unstable"
                    else f"{c['stability']}: {c.get('summary', c['holds'])}")
            if c.get("unstable_premises"):
                text += "; on the edge: " + ", ".join(f"{name} {c['premises'][name]}" for name in c["unstable_premises"])
            if c["group_label"] != "all cells":
                text = f"{c['group_label']}: {text}"
            out.setdefault((c["chapter"], c["id"]), []).append(text)
    return {k: "; ".join(v) for k, v in out.items()}


def _fmt_params(params: dict) -> str:
    # a path names only its file or folder: the page never shows where this machine keeps it
    shown = {k: (Path(str(v)).name + "/" if k == "data_root" else Path(str(v)).name) if k in ("data_root", "model_file")
             and v else v for k, v in params.items()}
    return ", ".join(f"`{k}={v!r}`" for k, v in shown.items() if k not in ("preset",))


def write_status_page(folder: Path = BOOK_NOTEBOOKS, path: Path = STATUS_PAGE) -> Path:
    """Markdown page with each run's provenance (from ``*.provenance.json``): every chapter, on
    the synthetic default and on each real dataset of this build."""
    records = {r["notebook"]: r for r in read_records(folder)}
    order = {name: k for k, name in enumerate(papers())}
    runs = sorted(records, key=lambda run: (order.get(run.split("--")[0], 99), run))
    lines = ["# Status and provenance", "",
             "Every chapter of this book was executed by papermill from its jupytext source, then "
             "rendered without re-execution. This page records, for each executed run (a chapter on "
             "the synthetic default, or on a real dataset), what produced the numbers you read.", ""]
    lines += ["| run | preset | data | seed | device | run time | git | status |",
              "|---|---|---|---|---|---|---|---|"]
    for name in papers():
        if name not in records:
            lines.append(f"| {name} | not executed | | | | | | missing |")
    for run in runs:
        r = records[run]
        lines.append(f"| [{run}](notebooks/{run}.ipynb) | {r['preset']} | {r['data']} | {r['seed']} | "
                     f"{r['device']} | {r['wall_seconds']:.0f} s | {r['git']} | {r['status']} |")
    for run in runs:
        r = records[run]
        lines += ["", f"## {run}", "", f"*{r['title']}*", "",
                  f"- started (UTC): {r['started_utc']}; wall time {r['wall_seconds']:.0f} s",
                  f"- parameters: {_fmt_params(r['parameters'])}",
                  "- versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items())]
    with atomic_write(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def collect_claims(folder: Path = BOOK_NOTEBOOKS) -> list[dict]:
    """Every claim record (see :mod:`medadv_lib.verdicts.claims`) that the executed notebooks emitted."""
    import nbformat

    from ..verdicts import read_claims_outputs

    order = {name: k for k, name in enumerate(papers())}
    records = []
    paths = sorted(Path(folder).glob("*.ipynb"), key=lambda p: (order.get(p.stem.split("--")[0], 99), p.stem))
    for path in paths:                     # the book's order: chapter by chapter, synthetic run first
        if path.name.endswith(".failed.ipynb"):
            continue
        for block in read_claims_outputs(nbformat.read(path, as_version=4), where=str(path.name)):
            records += [dict(r, page=path.stem, headline=block.get("headline", "")) for r in block["claims"]]
    return records


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _unmet(record: dict) -> str:
    """The premises a record's verdict failed on, by name ("" when none failed)."""
    return ", ".join(p["name"] for p in record.get("premises", []) if not p.get("met", True))


def _label_with_premise(record: dict) -> str:
    """The verdict, the premises it failed on, and the seeds it rests on (issue 29). A premise is
    named as the condition the test needed ("the minimal searches converged"), so it is shown as
    not met: bare, "cannot be tested (Kaggle-DR is in this collection)" read as its opposite."""
    unmet = _unmet(record)
    seeds = int(record.get("seeds", 1))
    label = f"{record['label']} (not met: {unmet})" if unmet else record["label"]
    return f"{label}, {seeds} seed{'s' if seeds != 1 else ''}"


def write_scoreboard(folder: Path = BOOK_NOTEBOOKS, path: Path = SCOREBOARD_PAGE,
                     summary_path: Path = CLAIMS_SUMMARY, sweeps: list[dict] | None = None) -> Path:
    """The reproduction scoreboard: every claim of every chapter with the verdict of each run next
    to it (one column per run: synthetic, each real dataset; a verdict that rests on a failed
    premise names it), then the paper's evidence, ours and a link to the chapter's claims section;
    the verdict counts by kind per run, with its preset and fidelity; and the intro's
    one-line-per-chapter summary, which tells *not reproduced at this scale* from *does not hold*.
    With ``sweeps`` (the records of :func:`write_replication_pages`), a column "across seeds"
    marks every claim whose decided verdict flips across a sweep's cells as *unstable*."""
    from ..verdicts import VERDICTS, counts_line

    records = collect_claims(folder)
    seeds = _across_seeds(sweeps or [])
    runs = list(dict.fromkeys(r["run"] for r in records))
    rows: dict[tuple, dict] = {}
    for r in records:
        row = rows.setdefault((r["chapter"], r["id"]), {"record": r, "verdicts": {}, "pages": {}})
        row["verdicts"][r["run"]] = _label_with_premise(r)
        row["pages"][r["run"]] = r["page"]
    lines = ["# Reproduction scoreboard", "",
             "Every claim of the four papers, tested by its chapter, and the robustness matrix's "
             "sanity checks of the evaluation (not a paper's claims). The verdicts of our runs use 95 % "
             "intervals: *holds*; *does not hold* (only on a run at the paper's fidelity: the paper preset "
             "on the paper's kind of data); *not reproduced at this scale* (the same reading on a smaller "
             "run: no evidence against the paper); *inconclusive at n = ...* (our sample cannot decide); "
             "*cannot be tested* (a premise of the test failed, named in brackets: the model is no fair "
             "stand-in, the attack did nothing, the method did not converge, or the sample cannot decide "
             "the threshold). *Paper's numbers*: whether the claim holds on the numbers the paper itself "
             "prints (`stated` where it prints none that decide it). The evidence shown is that of the "
             "first run listed; each chapter's claims section has all of it. Which data each run used is "
             "named on its page and on the {doc}`status` page. Each verdict says how many training seeds it "
             "rests on; a claim on the *level* of an effect is decided on a weak attack (a weak attack is "
             "the finding), a claim that *compares* attack results needs the attacks to have done "
             "something (each chapter's premise audit).", ""]
    pages = list(dict.fromkeys((r["chapter"], r["run"], r["page"], r.get("preset", ""), r.get("fidelity", ""))
                               for r in records))
    if pages:
        lines += ["## Verdicts by kind, per run", "",
                  "| chapter | run | preset | " + " | ".join(VERDICTS) + " | fidelity |",
                  "|" + "---|" * (4 + len(VERDICTS))]
        for chapter, run, page, preset, fidelity in pages:
            these = [r for r in records if r["page"] == page]
            counts = [str(sum(r["verdict"] == v for r in these)) for v in VERDICTS]
            lines.append(f"| {{doc}}`notebooks/{page}` | {run} | {preset or 'unknown'} | " + " | ".join(counts)
                         + f" | {_cell(fidelity or 'unknown')} |")
        lines += ["", "## Every claim", ""]
    if seeds:
        lines += ["*Across seeds*: the claim's verdicts over the cells of a replication (see "
                  "{doc}`replications`); **unstable** where it holds in one seed and fails in another.", ""]
    lines += ["| claim | " + " | ".join(f"verdict: {run}" for run in runs) + (" | across seeds" if seeds else "")
              + " | chapter | where | paper's evidence | paper's numbers | our evidence |",
              "|" + "---|" * (6 + len(runs) + bool(seeds))]
    for (chapter, _), row in rows.items():
        r = row["record"]
        first = next(iter(row["pages"].values()))
        link = f"[{chapter}](notebooks/{first}.ipynb#claims-checked)"
        cells = [r["claim"]] + [row["verdicts"].get(run, "not run") for run in runs]
        if seeds:
            cells.append(seeds.get((chapter, r["id"]), "not replicated"))
        cells += [link, r["where"], r["paper_evidence"], r["paper_verdict"], r["evidence"]]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    if not records:
        lines.append("\nNo executed chapter emitted claims yet.")
    with atomic_write(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    summary = ["| chapter | run | headline result | claims (preset) |", "|---|---|---|---|"]
    for chapter in dict.fromkeys(r["chapter"] for r in records):
        for run in runs:
            these = [r for r in records if r["chapter"] == chapter and r["run"] == run]
            if not these:
                continue
            counts = {v: sum(r["verdict"] == v for r in these) for v in VERDICTS}
            summary.append(f"| {{doc}}`notebooks/{these[0]['page']}` | {run} | {_cell(these[0]['headline'])} | "
                           f"{len(these)}: {counts_line(counts)} ({these[0].get('preset') or 'unknown'}) |")
    with atomic_write(summary_path, "w") as handle:
        handle.write("\n".join(summary) + "\n")
    return path


def jupyter_book_command(root: Path) -> list[str]:
    """``jupyter-book build`` with every warning (broken reference, bad notebook) an error."""
    jb = Path(sys.executable).with_name("jupyter-book")
    return [str(jb), "build", str(root), "--builder", "html", "-W", "--keep-going"]


def evaluation_overrides(path: str | Path) -> dict:
    """The parameters of one evaluation page (``medadv book --evaluate FILE``): FILE is a YAML
    mapping of the parameters of ``notebooks/evaluate.py`` (``model_file``, ``arch``, ``dataset``,
    ``data_root``, ``eps`` as numbers or ``"2/255"``, ``attacks``, ...). A relative ``model_file`` or
    ``data_root`` is read from FILE's folder."""
    import yaml

    from ..specs import ParameterError

    path = Path(path)
    try:
        values = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ParameterError(f"evaluation file {path}: {exc}") from None
    if not isinstance(values, dict):
        raise ParameterError(f"evaluation file {path}: expected a mapping of parameters, got {type(values).__name__}")
    for key in ("model_file", "data_root"):
        if values.get(key) and not Path(str(values[key])).expanduser().is_absolute():
            values[key] = str((path.parent / str(values[key])).resolve())
    if "eps" in values:
        from ..specs.budgets import parse_budgets

        values["eps"] = parse_budgets(values["eps"])
    values.pop("preset", None)
    return values


#: An early build waits at least this long after the last (each takes about 5 s of one core).
EARLY_BUILD_SECONDS = 60
#: The first line of a stand-in page for a chapter still running (removed before every real build).
PLACEHOLDER_MARK = "<!-- medadv: a page still being computed -->"


def remove_placeholders(folder: Path = BOOK_NOTEBOOKS) -> None:
    for page in Path(folder).glob("*.md"):
        if page.read_text().startswith(PLACEHOLDER_MARK):
            page.unlink()


class EarlyBook:
    """The book to read during its build (issue 31): after a page finishes, at most every
    :data:`EARLY_BUILD_SECONDS`, the status and scoreboard pages are rewritten and the HTML rebuilt
    (warnings allowed), with a stand-in page, naming the ETA, for each chapter still running.
    Says where the book is the first time."""

    def __init__(self, sweeps=(), every: float = EARLY_BUILD_SECONDS, folder: Path = BOOK_NOTEBOOKS,
                 root: Path = REPO_ROOT, command: list[str] | None = None):
        self.sweeps, self.every, self.folder, self.root = list(sweeps or []), every, Path(folder), Path(root)
        self.command = command
        self.last: float | None = None
        self.builds = 0

    def placeholders(self, eta_seconds: float) -> list[Path]:
        written = []
        for name, spec in papers().items():
            if not (self.folder / f"{name}.ipynb").is_file():
                page = self.folder / f"{name}.md"
                with atomic_write(page, "w") as handle:
                    handle.write(f"{PLACEHOLDER_MARK}\n# {spec.title}\n\nThis chapter is still being computed; "
                                 f"the book is rebuilt as each page finishes (about {eta_seconds / 60:.0f} min "
                                 "left for the whole build, from the runs' expected costs).\n")
                written.append(page)
        return written

    def __call__(self, result, state: dict) -> None:
        if result.status != "ok" or result.job.replication is not None:
            return
        now = time.monotonic()
        if self.last is not None and now - self.last < self.every:
            return
        self.last = now
        self.folder.mkdir(parents=True, exist_ok=True)
        self.placeholders(state.get("eta_seconds", 0.0))
        try:
            write_replication_pages(self.sweeps)
            write_status_page(self.folder)
            write_scoreboard(self.folder)
            log = self.root / "_build" / "early-build.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            cmd = self.command or [c for c in jupyter_book_command(self.root) if c not in ("-W", "--keep-going")]
            with open(log, "wb") as out:
                proc = subprocess.run(cmd, cwd=self.root, stdout=out, stderr=subprocess.STDOUT)
        finally:
            remove_placeholders(self.folder)
        if proc.returncode == 0:
            self.builds += 1
            if self.builds == 1:
                print(f"== the book so far: {self.root / '_build' / 'html' / 'index.html'} (rebuilt as pages "
                      f"finish; about {state.get('eta_seconds', 0.0) / 60:.0f} min left)", flush=True)


def execute_own_model(preset: str, data_dir: Path | None, out_dir: Path = BOOK_NOTEBOOKS,
                      progress: bool = True) -> list[str]:
    """The "Attack your own model" example (:mod:`medadv_lib.evaluation.own_model`) when ``data_dir`` holds
    PneumoniaMNIST: a ResNet-18 trained in plain torch (cached), its evaluation page executed like
    any ``--evaluate`` file's; the failure messages."""
    from ..data.registry import find_data
    from ..evaluation.page import SPEC
    from ..evaluation.own_model import DATASET, book_evaluation

    found = find_data(data_dir) if data_dir else {}
    if DATASET not in found:
        return []
    print(f"== executing the own-model example on {found[DATASET]} (preset {preset})", flush=True)
    try:
        run_notebook(SPEC, preset, book_evaluation(found[DATASET], preset), out_dir=out_dir, progress=progress)
    except RunError as exc:
        print(f"FAILED: {exc}", file=sys.stderr, flush=True)
        return [str(exc)]
    return []


def build_book(preset: str = "default", execute: bool = True, names: list[str] | None = None,
               data_dir: str | Path | None = None, evaluations: list[str] | None = None,
               sweeps: list[str | Path] | None = None, replicate: bool | str = True, jobs: int | None = None,
               engine=None, early: bool = True) -> Path:
    """Execute (unless ``execute`` is False) every run, write the status and scoreboard pages,
    build HTML; return its folder. ``data_dir`` (default ``$MEDADV_DATA_DIR``) adds the real-data
    runs of every chapter whose data it finds; ``jobs`` runs side by side (:func:`execute_all`);
    ``evaluations`` (YAML files, see :func:`evaluation_overrides`) add one ``medadv evaluate``
    page each, listed under the robustness matrix; a ``data_dir`` with PneumoniaMNIST adds the
    own-model example's page (:func:`execute_own_model`, after the schedule: its model is trained
    first). ``sweeps``: sweep folders, one replication
    page each; ``replicate`` (default ``"book"`` or True; only with ``execute``) also runs
    :data:`BOOK_REPLICATIONS` of the chapters built (at this preset) and adds theirs; ``"all"``
    replicates every chapter (:func:`all_replications`); ``"none"`` or False, none. The runs,
    the evaluation pages and the replication cells are one schedule (:func:`execute_all`) on
    ``engine`` (:class:`~medadv_lib.running.engine.EngineOptions`: ``--scheduler``, ``--slurm``; default a
    LocalCluster of ``jobs`` workers); ``early``: the HTML is rebuilt as pages finish
    (:class:`EarlyBook`), so the book can be read before the last run ends. Parameters, data,
    models and sweep folders are checked before anything runs."""
    data_dir = data_dir or os.environ.get(DATA_DIR_ENV) or None
    if data_dir and not Path(data_dir).is_dir():
        raise BookError(f"data folder not found: {data_dir}")
    # absolute: each run's process works in its own folder (_build/runs/NAME), where a relative path is wrong
    data_dir = str(Path(data_dir).resolve()) if data_dir else None
    if evaluations:
        from ..evaluation.page import SPEC
        from ..specs import resolve_parameters

        for file in evaluations:                 # bad input refused before the first chapter runs
            resolve_parameters(SPEC, preset, evaluation_overrides(file))
    replicate = {True: "book", False: "none"}.get(replicate, replicate)
    if replicate not in REPLICATE_SCOPES:
        raise BookError(f"replicate must be one of {list(REPLICATE_SCOPES)}, got {replicate!r}")
    sweeps = list(sweeps or [])
    find_sweeps(sweeps)                       # a wrong folder fails before anything runs
    if execute:
        chosen = {"book": BOOK_REPLICATIONS, "all": all_replications(), "none": ()}[replicate]
        failures = execute_all(preset, names, data_dir=Path(data_dir) if data_dir else None, jobs=jobs,
                               evaluations=evaluations, replications=chosen, engine=engine,
                               on_done=EarlyBook(sweeps) if early else None)
        if names is None:
            failures += execute_own_model(preset, Path(data_dir) if data_dir else None)
        if failures:
            raise BookError(f"{len(failures)} notebook(s) failed; the book was not built:\n"
                            + "\n".join(failures))
    missing = [n for n in papers() if not (BOOK_NOTEBOOKS / f"{n}.ipynb").is_file()]
    if missing:
        raise BookError(f"no executed notebook for {missing} in {BOOK_NOTEBOOKS}: run `medadv book`")
    if replicate == "book" and execute:
        sweeps += run_replications(preset, names=names)
    elif replicate == "all" and execute:
        sweeps += run_replications(preset, all_replications(), names=names)
    remove_placeholders()
    sweep_records = write_replication_pages(sweeps)
    write_status_page()
    write_scoreboard(sweeps=sweep_records)
    cmd = jupyter_book_command(REPO_ROOT)
    print("== " + " ".join(cmd), flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO_ROOT)
    print(f"== jupyter-book build: {time.perf_counter() - start:.0f} s", flush=True)
    if proc.returncode != 0:
        raise BookError(f"jupyter-book build failed (exit {proc.returncode}); see its warnings above")
    html = REPO_ROOT / "_build" / "html"
    print(f"book: {html / 'index.html'}")
    return html

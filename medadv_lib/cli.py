"""``medadv``: list the papers, run one notebook, build the book.

    medadv list
    medadv attacks
    medadv run PAPER [--preset smoke|default|paper] [-p NAME VALUE]... [--out DIR]
    medadv evaluate --model FILE --arch ARCH --dataset NAME --data-root DIR [--eps 1/255 ...] [--attacks ...] [--out DIR]
    medadv sweep PAPER --grid 'seed=[0,1,2,3]' [--grid ...] [-p NAME VALUE]... --out DIR
                 [--workers N --threads T | --scheduler ADDRESS | --slurm --partition P ...]
    medadv book [--preset P] [--no-execute] [--evaluate FILE.yaml]... [--sweeps DIR]... [--replicate [all] | --no-replicate]
                [--jobs N | --scheduler ADDRESS | --slurm ...] [--no-early]
    medadv check-book [--html DIR] [--screenshots DIR]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .specs import PRESETS, ParameterError, notebook_parameters
from .papers import get_paper, papers

EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED = 2, 1, 130


def _cmd_list(args) -> int:
    for name, spec in papers().items():
        print(f"{name}: {spec.title}\n    {spec.citation}")
        defaults = notebook_parameters(spec)
        print(f"    datasets: {', '.join(spec.datasets)} (-p dataset NAME -p data_root DIR)")
        print(f"    presets: {', '.join(PRESETS)}")
        for preset in PRESETS:
            if spec.presets.get(preset):
                changes = ", ".join(f"{k}={v!r}" for k, v in spec.presets[preset].items())
                print(f"      {preset}: {changes}")
        print("    parameters (defaults = the default preset):")
        for pname, value in defaults.items():
            rule = spec.rule(pname)
            extra = ""
            if rule is not None:
                bits = []
                if rule.choices is not None:
                    bits.append(f"one of {list(rule.choices)}")
                if rule.min is not None or rule.max is not None:
                    bits.append(f"range [{rule.min}, {rule.max}]")
                if rule.doc:
                    bits.append(rule.doc)
                extra = "  # " + "; ".join(bits) if bits else ""
            print(f"      {pname} = {value!r}{extra}")
        print()
    return 0


def _cmd_attacks(args) -> int:
    from .attacks import ATTACKS, hyperparameters

    print("attacks of the registry: run_attack(name, model, images, labels, eps=..., norm=..., **hyperparameters)\n"
          "or the class, e.g. medadv_lib.attacks.PGD(steps=10).run(model, images, labels, eps=[1/255, 2/255]):")
    for name, attack in ATTACKS.items():
        norms = "/".join(attack.norms) if attack.norms else "minimal perturbation"
        paper = f" [{attack.paper_id}]" if attack.paper_id else ""
        print(f"  {name:16s} {attack.kind:9s} {norms:22s} {', '.join(attack.tasks)}  class {attack.__name__}{paper}\n"
              f"      {attack.description}")
        params = hyperparameters(attack)
        for h in params:
            print(f"      {h}")
        if not params:
            print("      (no hyperparameters)")
    return 0


def _overrides(pairs) -> dict:
    out = {}
    for name, value in pairs or []:
        if name in out:
            raise ParameterError(f"parameter {name!r} given twice")
        out[name] = value
    return out


def _data_root(overrides: dict, data_dir: str) -> str:
    """``--data-dir DIR``: the folder of ``-p dataset NAME`` under DIR, named as in ``../shared/data/``."""
    from .data.registry import find_data

    dataset = overrides.get("dataset", "synthetic")
    if "data_root" in overrides:
        raise ParameterError("give either --data-dir or -p data_root, not both")
    if dataset == "synthetic":
        raise ParameterError("--data-dir needs -p dataset NAME (a real dataset; see `medadv list`)")
    if not Path(data_dir).is_dir():
        raise ParameterError(f"data folder not found: {data_dir}")
    found = find_data(data_dir)
    if dataset not in found:
        raise ParameterError(f"no {dataset!r} folder under {data_dir} (found: {', '.join(found) or 'none'})")
    return str(found[dataset])


def _cmd_run(args) -> int:
    from .running.runner import RunError, run_notebook

    spec = get_paper(args.paper)
    overrides = _overrides(args.param)
    if "preset" in overrides:
        raise ParameterError("use --preset to choose a preset, not -p preset")
    if args.data_dir:
        overrides["data_root"] = _data_root(overrides, args.data_dir)
    try:  # parameters are checked inside, before papermill starts
        path = run_notebook(spec, args.preset, overrides, args.out, progress=not args.quiet)
    except RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"interrupted; the last good {spec.name}.ipynb is kept", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"executed notebook: {path}")
    return 0


def _cmd_evaluate(args) -> int:
    from .evaluation.page import SPEC
    from .running.runner import RunError, run_notebook

    overrides = _overrides(args.param)
    absolute = lambda path: str(Path(path).expanduser().resolve())   # noqa: E731 - the kernel runs in --out
    given = {"model_file": absolute(args.model), "arch": args.arch, "dataset": args.dataset, "threat_model": args.threat_model,
             "normalize": args.normalize, "name": args.name, "n_inputs": args.n_inputs, "image_size": args.image_size,
             "steps": args.steps, "eps": args.eps,
             "attacks": args.attacks}
    overrides.update({k: v for k, v in given.items() if v is not None})
    if args.data_root and args.data_dir:
        raise ParameterError("give either --data-root or --data-dir, not both")
    if args.data_root:
        overrides["data_root"] = absolute(args.data_root)
    elif args.data_dir:
        overrides["data_root"] = _data_root(overrides, args.data_dir)
    try:  # parameters, data and model are checked inside, before papermill starts
        path = run_notebook(SPEC, args.preset, overrides, args.out, progress=not args.quiet)
    except RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted; the last good evaluation page is kept", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"executed notebook: {path}")
    return 0


def slurm_options(args):
    """``medadv sweep --slurm ...``'s options as :class:`~medadv_lib.running.engine.SlurmOptions` (checked),
    or None without ``--slurm``."""
    from .running.engine import SlurmOptions

    jobs = args.jobs if args.command == "sweep" else None   # `medadv book --jobs`: runs side by side
    if not args.slurm:
        if any(v is not None for v in (args.partition, args.account, jobs, args.sbatch)):
            raise ParameterError("--partition, --account, --jobs and --sbatch are Slurm options: add --slurm")
        return None
    options = SlurmOptions(partition=args.partition, walltime=args.walltime, cores=args.cores,
                           memory=args.memory, gpus=args.gpus, jobs=jobs, account=args.account,
                           extra=tuple(args.sbatch or ()))
    options.check()
    return options


def _engine_arguments(parser, unit: str) -> None:
    """The Dask engine's options beyond the local cluster (``medadv sweep``, ``medadv book``):
    a running scheduler, or Slurm (dask-jobqueue) with its job's resources; ``unit``: what one
    worker runs at a time ("cell", "run")."""
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="join a running Dask cluster, e.g. tcp://10.0.0.5:8786")
    parser.add_argument("--slurm", action="store_true",
                        help=f"start the workers as Slurm jobs (dask-jobqueue), one {unit} per job at a time")
    parser.add_argument("--partition", default=None, help="Slurm partition (queue)")
    parser.add_argument("--account", default=None, help="Slurm account")
    parser.add_argument("--walltime", default="01:00:00", help="Slurm walltime per job (default 01:00:00)")
    parser.add_argument("--cores", type=int, default=4, help=f"Slurm cores per job = threads per {unit} (default 4)")
    parser.add_argument("--memory", default="16GB", help="Slurm memory per job (default 16GB)")
    parser.add_argument("--gpus", type=int, default=0, help="Slurm GPUs per job (--gres=gpu:N; default 0)")
    parser.add_argument("--sbatch", action="append", metavar="DIRECTIVE",
                        help="another #SBATCH directive, e.g. --sbatch=--constraint=a100 (repeatable)")


def _cmd_sweep(args) -> int:
    from .running.engine import EngineOptions, SweepError
    from .running.sweep import parse_grid, plan_cells, run_sweep

    spec = get_paper(args.paper)
    grid = parse_grid(args.grid)
    overrides = _overrides(args.param)
    if args.scheduler and args.slurm:
        raise ParameterError("give either --scheduler or --slurm, not both")
    slurm = slurm_options(args)
    cells = plan_cells(spec, args.preset, grid, overrides, args.data_dir)   # every cell checked first
    engine = EngineOptions(scheduler=args.scheduler, slurm=slurm, workers=args.workers, threads=args.threads)
    try:
        result = run_sweep(spec, args.preset, cells, args.out, engine, grid=grid, overrides=overrides)
    except SweepError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"interrupted; finished cells are kept in {args.out} (run the same sweep again to resume)",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"sweep: {result.path} ({result.computed} cell(s) run, {len(cells) - result.computed} done before)")
    if result.failed:
        print(f"error: {len(result.failed)} of {len(cells)} cell(s) failed: " + "; ".join(result.failed),
              file=sys.stderr)
        return EXIT_FAILED
    return 0


def _cmd_book(args) -> int:
    from .book.build import BookError, build_book
    from .running.engine import EngineOptions, SweepError

    if args.scheduler and args.slurm:
        raise ParameterError("give either --scheduler or --slurm, not both")
    slurm = slurm_options(args)            # stray Slurm options refused here, before anything runs
    engine = EngineOptions(scheduler=args.scheduler, slurm=slurm) if args.scheduler or slurm else None
    try:
        build_book(args.preset, execute=not args.no_execute, data_dir=args.data_dir, evaluations=args.evaluate,
                   sweeps=args.sweeps, replicate=args.replicate, jobs=args.jobs, engine=engine,
                   early=args.early)
    except SweepError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted; the last good executed notebooks are kept", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def _cmd_check_book(args) -> int:
    from .book.browser import BrowserUnavailable, check_book
    from .specs import REPO_ROOT

    html = Path(args.html)
    if not (html / "index.html").is_file():
        print(f"error: no built book at {html} (run `medadv book` first)", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        problems = check_book(html, args.screenshots, extra_paths=(str(REPO_ROOT), str(Path.home())))
    except BrowserUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    for problem in problems:
        print(problem)
    pages = len({p.page for p in problems})
    print(f"{len(problems)} problem(s) on {pages} page(s); screenshots in {args.screenshots}"
          if problems else f"every page is clean; screenshots in {args.screenshots}")
    return EXIT_FAILED if problems else 0


def _run_options(parser: argparse.ArgumentParser, param_help: str) -> None:
    """The options of one papermill run (`medadv run`, `medadv evaluate`): preset, -p, output, quiet."""
    parser.add_argument("--preset", default="default", choices=PRESETS,
                        help="smoke (CI, a minute or two), default (the book), paper (GPU + real data)")
    parser.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"), help=param_help)
    parser.add_argument("--out", default=None, help="output folder (default: runs/)")
    parser.add_argument("--quiet", action="store_true", help="no papermill progress bar")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="medadv", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_list = sub.add_parser("list", help="papers, presets and every notebook's parameters",
                            description="List the papers, their presets and each notebook's "
                                        "parameters with defaults and allowed values.")
    p_list.set_defaults(func=_cmd_list)
    p_attacks = sub.add_parser("attacks", help="the attacks of the registry, with their kind, norms and tasks",
                               description="List every attack of the registry: name, kind (budget, minimal, "
                                           "universal), norms, the model tasks it applies to.")
    p_attacks.set_defaults(func=_cmd_attacks)
    p_run = sub.add_parser("run", help="execute one paper's notebook with papermill",
                           description="Execute one notebook (from its jupytext source) with "
                                       "papermill. Parameters are checked before anything runs; "
                                       "a failed run names the failing cell and leaves the last "
                                       "good executed notebook in place.")
    p_run.add_argument("paper", help="notebook name, see `medadv list`")
    _run_options(p_run, "override a parameter (repeatable); VALUE is YAML: 3, 0.5, true, [1, 2], text")
    p_run.add_argument("--data-dir", default=None, metavar="DIR",
                       help="with -p dataset NAME: take data_root from DIR, laid out like ../shared/data/")
    p_run.set_defaults(func=_cmd_run)
    p_eval = sub.add_parser("evaluate", help="attack your own model: one page for your weights file on one dataset",
                            description="Load your model (a state dict or TorchScript file; nothing is "
                                        "downloaded), check it against the dataset, then execute "
                                        "notebooks/evaluate.py with papermill: every applicable attack at "
                                        "every budget, the noise control, the worst case and the sanity "
                                        "checks. Bad input is refused before any attack (exit 2).")
    p_eval.add_argument("--model", required=True, metavar="FILE", help="your weights: state dict or TorchScript")
    p_eval.add_argument("--arch", required=True, help="timm:NAME, torchvision:NAME, medadv:NAME, xrv:densenet121 or "
                                                      "xrv:WEIGHTS (xrv:densenet121-res224-all, ...)")
    p_eval.add_argument("--dataset", required=True, help="a real dataset: nih-cxr14, kermany, covidx, retinamnist, "
                                                         "pneumoniamnist, covid-ct-infection")
    p_eval.add_argument("--data-root", default=None, metavar="DIR", help="the dataset's folder")
    p_eval.add_argument("--data-dir", default=None, metavar="DIR",
                        help="instead of --data-root: a folder laid out like ../shared/data/")
    p_eval.add_argument("--eps", nargs="+", default=None, metavar="EPS",
                        help="budgets on the [0, 1] scale, e.g. 1/255 2/255 8/255 (default: 0.5, 2, 8/255; "
                             "L2: 0.25 0.5 1)")
    p_eval.add_argument("--attacks", nargs="+", default=None, metavar="NAME",
                        help="attack names of `medadv attacks` (default: every fixed-budget attack that applies)")
    p_eval.add_argument("--threat-model", default=None, choices=("Linf", "L2"))
    p_eval.add_argument("--normalize", default=None, choices=("none", "imagenet"),
                        help="normalisation the model expects, applied inside it (torchvision/timm)")
    p_eval.add_argument("--name", default=None, help="the model's name on the page (default: the file's stem)")
    p_eval.add_argument("--n-inputs", type=int, default=None, help="test inputs attacked (default 32)")
    p_eval.add_argument("--image-size", type=int, default=None, help="side the images are loaded at (default 224)")
    p_eval.add_argument("--steps", type=int, default=None, help="steps of the iterative attacks (default 10)")
    _run_options(p_eval, "any other parameter of notebooks/evaluate.py (repeatable)")
    p_eval.set_defaults(func=_cmd_evaluate)
    p_sweep = sub.add_parser("sweep", help="run one notebook over a grid of parameters on Dask",
                             description="Run one paper's notebook over the cartesian product of the "
                                         "--grid axes, each cell one `medadv run` in DIR/<cell>/, on a Dask "
                                         "cluster: a LocalCluster started and closed here (default), a "
                                         "running scheduler (--scheduler) or Slurm (--slurm). Finished "
                                         "cells are never run again; DIR/sweep.json holds every cell and "
                                         "each claim's verdicts over them.")
    p_sweep.add_argument("paper", help="notebook name, see `medadv list`")
    p_sweep.add_argument("--grid", action="append", required=True, metavar="NAME=[V1,V2,...]",
                         help="one axis of the grid (repeatable), values as YAML: 'seed=[0,1,2,3]'")
    p_sweep.add_argument("--preset", default="default", choices=PRESETS)
    p_sweep.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"),
                         help="a parameter shared by every cell (repeatable)")
    p_sweep.add_argument("--data-dir", default=None, metavar="DIR",
                         help="each cell's data_root from DIR (laid out like ../shared/data/) by its dataset")
    p_sweep.add_argument("--out", required=True, metavar="DIR", help="the sweep's folder")
    p_sweep.add_argument("--workers", type=int, default=None,
                         help="local cluster: workers, one cell each (default: cores, or one per GPU)")
    p_sweep.add_argument("--threads", type=int, default=None,
                         help="torch threads per cell (local default: cores / workers; workers x threads <= cores)")
    _engine_arguments(p_sweep, "cell")
    p_sweep.add_argument("--jobs", type=int, default=None, help="Slurm jobs (default: one per cell to run)")
    p_sweep.set_defaults(func=_cmd_sweep)
    p_book = sub.add_parser("book", help="execute every notebook, then build the HTML book",
                            description="Execute every notebook with papermill into book/notebooks/, "
                                        "write the status page and build the book with Jupyter Book "
                                        "(execute_notebooks: off). Fails on any execution error "
                                        "or build warning.")
    p_book.add_argument("--preset", default="default", choices=PRESETS)
    p_book.add_argument("--no-execute", action="store_true",
                        help="build from the notebooks already executed in book/notebooks/")
    p_book.add_argument("--data-dir", default=None, metavar="DIR",
                        help="also run every chapter on each real dataset found in DIR (folder names "
                             "as in ../shared/data: nih-cxr14-1000, kermany-cxr, medmnist, "
                             "covidx-sample, covid-ct-infection); default: $MEDADV_DATA_DIR")
    p_book.add_argument("--evaluate", action="append", default=None, metavar="FILE",
                        help="also execute an evaluation page (`medadv evaluate`) from FILE, a YAML mapping of "
                             "its parameters (model_file, arch, dataset, data_root, eps, ...); repeatable")
    p_book.add_argument("--sweeps", action="append", default=None, metavar="DIR",
                        help="add one replication page per sweep: DIR holds a sweep.json (from `medadv "
                             "sweep`) or sweep folders that do (repeatable)")
    p_book.add_argument("--replicate", nargs="?", const="book", default="book", choices=("book", "all"),
                        help="run the book's own replications (backdoor over 4 seeds at the book's preset, "
                             "Nwadike et al.'s protocol; medadv_lib.book.build.BOOK_REPLICATIONS) with `medadv "
                             "sweep`'s engine and add their pages (default); `--replicate all`: every chapter "
                             "over 3 seeds besides (the scoreboard then says in how many seeds each verdict "
                             "holds); each replication reuses the book's own seed-0 run")
    p_book.add_argument("--no-replicate", dest="replicate", action="store_const", const="none",
                        help="run no replication")
    p_book.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                        help="runs side by side on the local Dask cluster, each at cpu_count/N torch threads "
                             "(default: one per CPU core, at most 4, or $MEDADV_JOBS; 1: one after another); "
                             "every run, evaluation page and replication cell is one schedule, the longest "
                             "first, the robustness matrix's pages after the chapters' runs")
    p_book.add_argument("--early", action=argparse.BooleanOptionalAction, default=True,
                        help="rebuild the HTML as pages finish, so the book can be read during the build "
                             "(default; --no-early: only at the end)")
    _engine_arguments(p_book, "run")
    p_book.set_defaults(func=_cmd_book)
    p_check = sub.add_parser("check-book", help="open every page of the built book in headless Chromium",
                             description="Open every page of a built book in headless Chromium and fail "
                                         "on a page that does not load, a console error, a broken image, "
                                         "raw TeX, a progress bar, a warning, a traceback, a machine path "
                                         "or an empty chapter. Saves one screenshot per page.")
    p_check.add_argument("--html", default="_build/html", help="the built book (default: _build/html)")
    p_check.add_argument("--screenshots", default="_build/screenshots",
                         help="where the screenshots go (default: _build/screenshots)")
    p_check.set_defaults(func=_cmd_check_book)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        return args.func(args)
    except ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:        # `medadv list | head`: the reader left; no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())

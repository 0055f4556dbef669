"""``medadv``: list the papers, run one notebook, build the book.

    medadv list
    medadv attacks
    medadv run PAPER [--preset smoke|default|paper] [-p NAME VALUE]... [--out DIR]
    medadv book [--preset P] [--no-execute] [--jobs N]
    medadv check-book [--html DIR] [--screenshots DIR]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .papers import PRESETS, ParameterError, get_paper, notebook_parameters, papers

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
    from .attacks.registry import ATTACKS

    print("attacks of the registry (medadv_lib.attacks.registry.run_attack(name, model, images, labels, ...)):")
    for name, attack in ATTACKS.items():
        norms = "/".join(attack.norms) if attack.norms else "minimal perturbation"
        print(f"  {name:16s} {attack.kind:9s} {norms:22s} {', '.join(attack.tasks)}\n      {attack.description}")
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
    from .runner import RunError, run_notebook

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


def _cmd_book(args) -> int:
    from .book import BookError, build_book

    try:
        build_book(args.preset, execute=not args.no_execute, data_dir=args.data_dir, jobs=args.jobs)
    except BookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted; the last good executed notebooks are kept", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def _cmd_check_book(args) -> int:
    from .browser import BrowserUnavailable, check_book
    from .papers import REPO_ROOT

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
    p_run.add_argument("--preset", default="default", choices=PRESETS,
                       help="smoke (CI, a minute or two), default (the book), paper (GPU + real data)")
    p_run.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"),
                       help="override a parameter (repeatable); VALUE is YAML: 3, 0.5, true, [1, 2], text")
    p_run.add_argument("--data-dir", default=None, metavar="DIR",
                       help="with -p dataset NAME: take data_root from DIR, laid out like ../shared/data/")
    p_run.add_argument("--out", default=None, help="output folder (default: runs/)")
    p_run.add_argument("--quiet", action="store_true", help="no papermill progress bar")
    p_run.set_defaults(func=_cmd_run)
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
    p_book.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                        help="runs side by side, each kernel at cpu_count/N torch threads (default: "
                             "one per CPU core, at most 4, or $MEDADV_JOBS; 1: one after another); "
                             "the robustness matrix's pages wait for the chapters' runs")
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

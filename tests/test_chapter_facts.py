"""A chapter declares itself once (its ``SPEC`` in ``medadv_lib/papers/<module>/__init__.py``); every
list of chapters is derived from the specs, and the files that must stay files (``_toc.yml``, which
Jupyter Book reads; the README's table of chapters; the Makefile's real-data goldens) are checked
against them here. Each check is a function from the facts to a list of problems, and the last
tests feed each one a deliberately wrong input, so none of them is a check that cannot fail.
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from conftest import GOLDEN_ORDER, golden_order
from medadv_lib.papers import papers, victim_chapters
from medadv_lib.specs import Hook, PaperSpec, notebook_parameters

REPO = Path(__file__).resolve().parents[1]
GOLDENS = REPO / "tests" / "notebooks"
PAPERS_DIR = REPO / "medadv_lib" / "papers"
#: The ``_toc.yml`` part of a chapter that reproduces a paper, and of one that runs after them.
PART, PART_AFTER = "Reproductions", "Across the collection"
NOTEBOOKS = "book/notebooks/"


# -- the checks: facts in, problems out ----------------------------------------------------------------

def order_problems(specs: dict[str, PaperSpec]) -> list[str]:
    """Two chapters at one ``order``, or a spec filed under another name."""
    problems = [f"{key!r} holds the spec named {spec.name!r}" for key, spec in specs.items() if key != spec.name]
    seen: dict[int, str] = {}
    for name, spec in specs.items():
        if spec.order in seen:
            problems.append(f"{name} and {seen[spec.order]} share order {spec.order}")
        seen.setdefault(spec.order, name)
    return problems


def toc_problems(specs: dict[str, PaperSpec], toc_text: str) -> list[str]:
    """``_toc.yml`` against the chapters: every chapter once, in the book's order, in its part
    (:data:`PART`, or :data:`PART_AFTER` for ``runs_after``), with its real-data runs as sections;
    no notebook entry without a chapter."""
    toc = yaml.safe_load(toc_text)
    problems, found = [], {}                     # part caption -> chapter names in toc order
    for part in toc.get("parts", []):
        caption = part.get("caption", "")
        for chapter in part.get("chapters", []):
            file = chapter.get("file", "")
            if not file.startswith(NOTEBOOKS):
                continue
            name = file[len(NOTEBOOKS):]
            found.setdefault(caption, []).append(name)
            if name not in specs:
                problems.append(f"_toc.yml: {file} is no chapter (chapters: {', '.join(specs)})")
                continue
            globs = [s.get("glob") for s in chapter.get("sections", [])]
            if f"{NOTEBOOKS}{name}--*" not in globs:
                problems.append(f"_toc.yml: {name} lacks its real-data runs' section glob {NOTEBOOKS}{name}--*")
            for glob in globs:
                if glob and glob.startswith(NOTEBOOKS) and "--" in glob and glob[len(NOTEBOOKS):].split("--")[0] != name:
                    problems.append(f"_toc.yml: {name} holds another chapter's runs ({glob})")
    listed = [n for names in found.values() for n in names]
    for name in specs:
        if listed.count(name) != 1:
            problems.append(f"_toc.yml: chapter {name} is listed {listed.count(name)} times (once expected)")
    for caption, wanted in ((PART, [n for n, s in specs.items() if not s.runs_after]),
                            (PART_AFTER, [n for n, s in specs.items() if s.runs_after])):
        got = [n for n in found.get(caption, []) if n in specs]
        if got != wanted:
            problems.append(f"_toc.yml: part {caption!r} lists {got}, the specs say {wanted}")
    for caption in set(found) - {PART, PART_AFTER}:
        problems.append(f"_toc.yml: chapters under an unknown part {caption!r}: {found[caption]}")
    return problems


def readme_chapters(readme_text: str) -> list[tuple[str, str]]:
    """The README's table of chapters (header ``| notebook | paper |``): ``(name, paper)`` rows."""
    lines = readme_text.splitlines()
    start = next((k for k, line in enumerate(lines) if re.match(r"\|\s*notebook\s*\|\s*paper\s*\|", line)), None)
    if start is None:
        return []
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows.append((cells[0].strip("`"), cells[1] if len(cells) > 1 else ""))
    return rows


def readme_problems(specs: dict[str, PaperSpec], readme_text: str) -> list[str]:
    """The README's table of chapters: one row per chapter in the book's order, and a chapter that is
    not from a paper (``from_paper=False``) says so."""
    rows = readme_chapters(readme_text)
    if not rows:
        return ["README.md: no table of chapters (header '| notebook | paper |')"]
    problems = []
    if [name for name, _ in rows] != list(specs):
        problems.append(f"README.md: the table of chapters lists {[n for n, _ in rows]}, the specs {list(specs)}")
    for name, paper in rows:
        if name in specs and ("not from a paper" in paper) == specs[name].from_paper:
            problems.append(f"README.md: {name}'s row {'says' if specs[name].from_paper else 'does not say'} "
                            f"'not from a paper' (from_paper={specs[name].from_paper})")
    return problems


def spec_problems(specs: dict[str, PaperSpec], goldens: Path = GOLDENS, papers_dir: Path = PAPERS_DIR) -> list[str]:
    """What each spec declares against what is there: notebook, golden, package, ``published.py``,
    the ``victims`` hook, the replication grid and readers, the matrix's datasets."""
    problems = []
    for name, spec in specs.items():
        module = name.replace("-", "_")
        if not spec.notebook.is_file():
            problems.append(f"{name}: no notebook {spec.notebook}")
            continue
        if not (goldens / f"{name}.ipynb").is_file():
            problems.append(f"{name}: no golden {goldens / f'{name}.ipynb'} (make golden)")
        if not (papers_dir / module / "__init__.py").is_file():
            problems.append(f"{name}: no package medadv_lib/papers/{module}/")
        if spec.datasets[:1] != ("synthetic",):
            problems.append(f"{name}: datasets must start with 'synthetic', got {spec.datasets}")
        has_published = (papers_dir / module / "published.py").is_file()
        if spec.from_paper != has_published or spec.from_paper != bool(spec.paper_datasets):
            problems.append(f"{name}: from_paper={spec.from_paper} but published.py "
                            f"{'exists' if has_published else 'is missing'} and paper_datasets={spec.paper_datasets}")
        if spec.victims is not None:
            if spec.runs_after:
                problems.append(f"{name}: runs after the chapters, so it offers no victims of its own")
            if not isinstance(spec.victims, Hook):
                problems.append(f"{name}: victims must be a Hook (a dotted path imported on call), "
                                f"got {type(spec.victims).__name__}")
            else:
                try:
                    hook = spec.victims.resolve()
                    if not callable(hook):
                        problems.append(f"{name}: victims {spec.victims.path} is not callable")
                except (ImportError, AttributeError, ValueError) as error:
                    problems.append(f"{name}: victims {spec.victims.path} does not resolve: {error}")
        params = notebook_parameters(spec)
        if spec.replication is not None:
            if spec.runs_after:
                problems.append(f"{name}: runs after the chapters and is not replicated")
            for key, values in spec.replication.items():
                if key not in params:
                    problems.append(f"{name}: replication over {key!r}, which the notebook has no parameter of")
                elif not isinstance(values, list) or not values:
                    problems.append(f"{name}: replication {key!r} must be a non-empty list, got {values!r}")
        for path in spec.replication_readers:
            try:
                from medadv_lib.specs.paper import resolve
                readers = resolve(path)
                if not all(callable(r) for r in readers):
                    problems.append(f"{name}: replication_readers {path} holds something not callable")
            except (ImportError, AttributeError, ValueError, TypeError) as error:
                problems.append(f"{name}: replication_readers {path} does not resolve: {error}")
    after = [n for n, s in specs.items() if s.runs_after]
    offered = [n for n, s in specs.items() if s.victims is not None]
    for name in after:
        theirs = {d for n in offered for d in specs[n].datasets}
        if set(specs[name].datasets) != theirs:
            problems.append(f"{name}: datasets {sorted(specs[name].datasets)}, but the chapters whose models "
                            f"it uses run on {sorted(theirs)}")
        default = notebook_parameters(specs[name]).get("chapters")
        if default is not None and list(default) != offered:
            problems.append(f"{name}: its notebook's default chapters {default} are not the chapters "
                            f"that declare victims {offered}")
    return problems


def golden_problems(specs: dict[str, PaperSpec], golden_names: list[str], make_text: str, order: list[str]) -> list[str]:
    """Every golden is a chapter's (``NAME`` or ``NAME--DATASET`` with DATASET one of its
    datasets), in the replay order, the ``runs_after`` ones after the chapters'; the Makefile's
    ``REAL_GOLDENS`` names exactly the real-data goldens."""
    problems = []
    for stem in golden_names:
        name, _, dataset = stem.partition("--")
        if name not in specs or (dataset and dataset not in specs[name].datasets):
            problems.append(f"golden {stem}.ipynb belongs to no chapter (or dataset of it)")
        if stem not in order:
            problems.append(f"golden {stem}.ipynb is not in GOLDEN_ORDER")
    last = max((order.index(n) for n, s in specs.items() if not s.runs_after and n in order), default=-1)
    for name in (n for n, s in specs.items() if s.runs_after and n in order):
        if order.index(name) < last:
            problems.append(f"golden {name} (runs_after) is replayed before a chapter it uses")
    match = re.search(r"^REAL_GOLDENS\s*:?=\s*(.*)$", make_text, re.M)
    declared = {pair.replace(":", "--") for pair in match.group(1).split()} if match else set()
    real = {stem for stem in golden_names if "--" in stem}
    if declared != real:
        problems.append(f"Makefile: REAL_GOLDENS {sorted(declared)} is not the real-data goldens {sorted(real)}")
    return problems


# -- the collection's facts agree --------------------------------------------------------------------

@pytest.fixture(scope="module")
def specs():
    return papers()


def _golden_names() -> list[str]:
    return sorted(p.stem for p in GOLDENS.glob("*.ipynb"))


def test_orders_are_unique_and_give_the_books_order(specs):
    assert order_problems(specs) == []
    assert [s.order for s in specs.values()] == sorted(s.order for s in specs.values())


def test_toc_lists_every_chapter_once_in_order(specs):
    assert toc_problems(specs, (REPO / "_toc.yml").read_text()) == []


def test_readme_table_of_chapters_agrees(specs):
    assert readme_problems(specs, (REPO / "README.md").read_text()) == []


def test_each_spec_agrees_with_what_is_there(specs):
    assert spec_problems(specs) == []


def test_goldens_agree(specs):
    assert golden_problems(specs, _golden_names(), (REPO / "Makefile").read_text(), GOLDEN_ORDER) == []
    assert GOLDEN_ORDER == golden_order(specs)


def test_every_list_of_chapters_is_derived_from_the_specs(specs):
    from medadv_lib.book import build as book
    from medadv_lib.papers.robustness_matrix import CHAPTERS, SPEC as MATRIX

    import test_published_values

    offered = [n for n, s in specs.items() if s.victims is not None]
    assert list(victim_chapters()) == offered and list(CHAPTERS) == offered
    assert list(MATRIX.rules["chapters"].choices) == offered
    assert list(book.AFTER_CHAPTERS) == [n for n, s in specs.items() if s.runs_after]
    assert [(r.paper, r.grid) for r in book.BOOK_REPLICATIONS] == \
        [(n, s.replication) for n, s in specs.items() if s.replication]
    assert test_published_values.PAPERS == [n.replace("-", "_") for n, s in specs.items() if s.from_paper]



def test_each_chapter_declares_its_cost_for_every_preset_and_the_schedule_reads_it(specs, tmp_path):
    from medadv_lib.evaluation.page import SPEC as EVALUATE
    from medadv_lib.running.schedule import UNKNOWN_SECONDS, expected_seconds

    for spec in [*specs.values(), EVALUATE]:
        assert set(spec.expected_seconds) == set(spec.presets), spec.name
        assert all(v > 0 for v in spec.expected_seconds.values()), spec.name
        assert expected_seconds(spec, "default") == spec.expected_seconds["default"]
    one = next(iter(specs.values()))
    assert expected_seconds(dataclasses.replace(one, expected_seconds={}), "default") == UNKNOWN_SECONDS
    # a page's measured wall time from an earlier build replaces the declared cost
    (tmp_path / "run.provenance.json").write_text('{"preset": "default", "wall_seconds": 12.5}')
    assert expected_seconds(one, "default", "run", tmp_path) == 12.5

# -- the checks can fail -------------------------------------------------------------------------------

def test_a_duplicate_order_is_caught(specs):
    wrong = dict(specs, smia=dataclasses.replace(specs["smia"], order=specs["uap-covidnet"].order))
    assert any("share order" in p for p in order_problems(wrong))


def test_a_wrong_toc_is_caught(specs):
    toc = (REPO / "_toc.yml").read_text()
    missing = toc.replace("      - file: book/notebooks/smia\n        sections:\n"
                          "          - glob: book/notebooks/smia--*\n", "")
    assert missing != toc
    assert any("smia is listed 0 times" in p for p in toc_problems(specs, missing))
    stray = toc.replace("      - file: book/notebooks/backdoor\n",
                        "      - file: book/notebooks/no-such-chapter\n      - file: book/notebooks/backdoor\n")
    assert any("no-such-chapter is no chapter" in p for p in toc_problems(specs, stray))
    swapped = (toc.replace("book/notebooks/smia", "book/notebooks/TMP")
               .replace("book/notebooks/backdoor", "book/notebooks/smia").replace("book/notebooks/TMP", "book/notebooks/backdoor"))
    assert any("part 'Reproductions' lists" in p for p in toc_problems(specs, swapped))
    moved = yaml.safe_load(toc)
    matrix = moved["parts"][1]["chapters"].pop(0)
    moved["parts"][0]["chapters"].append(matrix)
    problems = toc_problems(specs, yaml.safe_dump(moved))
    assert any("Across the collection" in p for p in problems) and any("'Reproductions'" in p for p in problems)
    # a chapter declared but not in the toc
    extra = dict(specs, **{"new-chapter": dataclasses.replace(specs["smia"], name="new-chapter", order=6)})
    assert any("new-chapter is listed 0 times" in p for p in toc_problems(extra, toc))


def test_a_wrong_readme_table_is_caught(specs):
    readme = (REPO / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| `smia` |"))
    assert any("table of chapters lists" in p for p in readme_problems(specs, readme.replace(row + "\n", "")))
    assert any("not from a paper" in p for p in readme_problems(specs, readme.replace("*not from a paper*", "a paper")))
    assert readme_problems(specs, "no table here") != []


def test_a_wrong_spec_is_caught(specs, tmp_path):
    smia = specs["smia"]
    broken = {
        "smia": dataclasses.replace(smia, victims=Hook("medadv_lib.papers.smia.victims:no_such_function")),
    }
    assert any("does not resolve" in p for p in spec_problems(broken))
    broken = {"smia": dataclasses.replace(smia, victims=Hook("medadv_lib.papers.no_such_module:matrix_victims"))}
    assert any("does not resolve" in p for p in spec_problems(broken))
    broken = {"backdoor": dataclasses.replace(specs["backdoor"], replication={"no_such_parameter": [0, 1]})}
    assert any("no parameter of" in p for p in spec_problems(broken))
    broken = {"backdoor": dataclasses.replace(specs["backdoor"], replication_readers=("medadv_lib.papers.backdoor:NOPE",))}
    assert any("replication_readers" in p for p in spec_problems(broken))
    broken = {"smia": dataclasses.replace(smia, from_paper=False)}
    assert any("from_paper=False" in p for p in spec_problems(broken))
    lonely = PaperSpec(name="lonely", title="t", citation="c", source=smia.notebook, order=7)
    problems = spec_problems({"lonely": lonely}, goldens=tmp_path)
    assert any("no golden" in p for p in problems) and any("no package" in p for p in problems)
    missing = PaperSpec(name="ghost", title="t", citation="c", source=tmp_path / "ghost.py")
    assert any("no notebook" in p for p in spec_problems({"ghost": missing}))
    # the matrix's datasets and default chapters follow the chapters that declare victims
    fewer = dict(specs, smia=dataclasses.replace(smia, victims=None))
    problems = spec_problems(fewer)
    assert any("datasets" in p for p in problems) and any("default chapters" in p for p in problems)


def test_wrong_goldens_are_caught(specs):
    names, make = _golden_names(), (REPO / "Makefile").read_text()
    assert any("belongs to no chapter" in p for p in golden_problems(specs, names + ["smia--nih-cxr14"], make,
                                                                    GOLDEN_ORDER + ["smia--nih-cxr14"]))
    assert any("not in GOLDEN_ORDER" in p for p in golden_problems(specs, names, make, GOLDEN_ORDER[1:]))
    late = [n for n in GOLDEN_ORDER if n != "robustness-matrix"]
    assert any("replayed before" in p for p in golden_problems(specs, names, make, ["robustness-matrix"] + late))
    assert any("REAL_GOLDENS" in p for p in golden_problems(specs, names, make.replace(" smia:retinamnist", ""),
                                                            GOLDEN_ORDER))

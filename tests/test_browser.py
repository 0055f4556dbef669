"""The browser check of the book can fail: hand-made pages with each fault a reader must not see."""
import os
import shutil

import pytest

from medadv_lib.book.browser import check_book, check_text

REQUIRE = os.environ.get("MEDADV_REQUIRE_BROWSER") == "1"
PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title>{head}</head>
<body><div class="bd-article">{body}</div></body></html>"""


def _chromium():
    if not (os.environ.get("MEDADV_CHROMIUM") or shutil.which("chromium")):
        if REQUIRE:
            pytest.fail("Chromium is missing and MEDADV_REQUIRE_BROWSER=1 (install it: make browser)")
        pytest.skip("Chromium is not installed (make browser installs Debian's chromium)")


@pytest.mark.parametrize("text, kind", [
    ("training densenet: 45%|####      | 9/20 [00:03<00:04, 2.5it/s]", "progress bar"),
    ("auto.py:21: TqdmWarning: IProgress not found", "Python warning"),
    ("/x/lib/python3.11/site-packages/tqdm/auto.py", "absolute path"),
    ("Traceback (most recent call last):\n  File \"a.py\", line 3, in <module>", "traceback"),
    ("<torch._C.Generator at 0x7f93693b7ad0>", "object repr"),
    ("data at /home/alice/data/nih", "absolute path"),
    ("from repo/.venv/lib/python3.11/torch/nn.py", "absolute path"),
])
def test_text_faults_are_found(text, kind):
    assert [p.kind for p in check_text("p.html", text, "")] == [kind]


def test_raw_tex_in_prose_is_found_but_not_in_code():
    assert [p.kind for p in check_text("p.html", "", r"the radius \(\xi\) of the ball")] == ["raw TeX"]
    assert check_text("p.html", r"print('a\nb')", "plain words, 45 % of images, a $5 note") == []


def test_documented_commands_are_not_machine_paths():
    assert check_text("p.html", ".venv/bin/medadv run smia -p data_root ../shared/data/covid-ct-infection", "") == []


def test_clean_and_faulty_pages_in_a_real_browser(tmp_path):
    _chromium()
    site = tmp_path / "html"
    (site / "book" / "notebooks").mkdir(parents=True)
    (site / "index.html").write_text(PAGE.format(head="", body="<h1>Front</h1><p>Nothing wrong.</p>"))
    (site / "book" / "broken.html").write_text(PAGE.format(
        head="<script>undefinedFunction();</script>",
        body=r'<p>Math \(v\) left raw.</p><img src="missing.png"><pre>50%|#####     | 5/10 [00:01<00:01, 4.1it/s]</pre>'))
    (site / "book" / "notebooks" / "empty.html").write_text(PAGE.format(head="", body="<h1>A chapter</h1>"))
    problems = check_book(site, tmp_path / "shots")
    kinds = {(p.page, p.kind) for p in problems}
    assert ("book/broken.html", "page error") in kinds
    assert ("book/broken.html", "raw TeX") in kinds
    assert ("book/broken.html", "image does not load") in kinds
    assert ("book/broken.html", "progress bar") in kinds
    assert ("book/notebooks/empty.html", "empty chapter") in kinds
    assert not [p for p in problems if p.page == "index.html"]
    assert sorted(f.name for f in (tmp_path / "shots").iterdir()) == [
        "book__broken.png", "book__notebooks__empty.png", "index.png"]

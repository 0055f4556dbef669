"""The built book as a reader sees it: every page opened in a real headless browser and checked.

``check_book(html_dir)`` opens each HTML page of a built book from ``file://`` in headless
Chromium (Playwright driving the system's Chromium: ``/usr/bin/chromium`` from Debian's packages,
or ``$MEDADV_CHROMIUM``), saves a full-page screenshot of it, and reports what a reader should
never see:

* a page that does not load, a JavaScript console error, an image that does not load;
* raw TeX left in the prose (``\\(v\\)``, ``$\\zeta$``): math must render offline;
* in any visible text outside the (hidden) input code: a progress-bar line, a Python warning, a
  traceback, an object repr with a memory address, an absolute path of the build machine;
* an empty or "not executed" chapter (a notebook page without any output).

``medadv check-book`` and ``make test-browser`` run it on a built book; CI runs it on the smoke
book built from an empty model cache.
"""
from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Problem", "check_book", "check_text", "book_pages", "find_chromium", "BrowserUnavailable"]

#: Progress bars (tqdm, papermill), warnings, tracebacks and reprs: never on a rendered page.
PATTERNS = {
    "progress bar": re.compile(r"\d+%\|.*\|\s*\d+/\d+|\d+(\.\d+)?\s?(it|s)/(s|it)\]"),
    "Python warning": re.compile(r"\b[A-Z]\w*Warning: "),
    "traceback": re.compile(r"Traceback \(most recent call last\)|^\s*File \"[^\"]+\", line \d+", re.M),
    "object repr": re.compile(r"<[\w.]+( object)? at 0x[0-9a-fA-F]+>"),
    "absolute path": re.compile(r"(?<![\w.])(/home/|/root/|/tmp/|/usr/|/work/|/var/)[\w.+-]+/[\w./+-]*"
                                r"|site-packages|\.venv/lib/"),   # .venv/bin/medadv in a documented command is fine
}
#: TeX that MathJax (or any renderer) should have turned into math.
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$[^$\n]{0,80}\\[A-Za-z]+[^$\n]{0,80}\$"
                     r"|\\(zeta|xi|infty|alpha|epsilon|eta|odot|lVert|rVert|mathrm|frac)\b")


class BrowserUnavailable(RuntimeError):
    """No Chromium, or no Playwright: the check cannot run (install them: `make browser`)."""


@dataclass(frozen=True)
class Problem:
    page: str
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.page}: {self.kind}: {self.detail}"


def find_chromium() -> str:
    """The Chromium executable: ``$MEDADV_CHROMIUM``, else ``chromium`` on the PATH."""
    candidate = os.environ.get("MEDADV_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not candidate:
        raise BrowserUnavailable("no Chromium found: install Debian's `chromium` (make browser) "
                                 "or point MEDADV_CHROMIUM at one")
    return candidate


def book_pages(html_dir: Path) -> list[Path]:
    """Every content page of a built Jupyter Book (Sphinx's generated index and search aside)."""
    skip = {"genindex.html", "search.html", "py-modindex.html"}
    return sorted(p for p in Path(html_dir).rglob("*.html")
                  if p.name not in skip and not any(part.startswith("_") for part in p.relative_to(html_dir).parts))


def check_text(page: str, visible: str, prose: str, extra_paths: tuple[str, ...] = ()) -> list[Problem]:
    """The text checks of one page: ``visible`` is all text a reader sees outside input code,
    ``prose`` the same without any code or output block (where raw TeX would show)."""
    problems = []
    for kind, pattern in PATTERNS.items():
        match = pattern.search(visible)
        if match:
            problems.append(Problem(page, kind, _context(visible, match)))
    for path in extra_paths:
        if path and path in visible:
            problems.append(Problem(page, "absolute path", path))
    match = RAW_TEX.search(prose)
    if match:
        problems.append(Problem(page, "raw TeX", _context(prose, match)))
    return problems


def _context(text: str, match: re.Match) -> str:
    start, end = max(match.start() - 40, 0), min(match.end() + 40, len(text))
    return " ".join(text[start:end].split())


_TEXTS = """() => {
  const body = document.body.cloneNode(true);
  body.querySelectorAll('.cell_input, .cell .tag_hide-input .cell_input, script, style, noscript, details:not([open]) > :not(summary)')
      .forEach(e => e.remove());
  body.querySelectorAll('.MathJax, .MathJax_SVG, mjx-container, .math, .MathJax_Preview').forEach(e => e.remove());
  const visible = body.innerText;
  body.querySelectorAll('pre, code, .cell_output, .output').forEach(e => e.remove());
  return [visible, body.innerText];
}"""

_BROKEN_IMAGES = """() => Array.from(document.images)
  .filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute('src'))"""


def check_book(html_dir: str | os.PathLike, screenshots: str | os.PathLike | None = None,
               extra_paths: tuple[str, ...] = (), timeout_ms: int = 60000) -> list[Problem]:
    """Open every page of the book at ``html_dir`` in headless Chromium; return the problems found
    (empty: every page is clean). Screenshots go to ``screenshots`` (one PNG per page)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise BrowserUnavailable("the Python package playwright is not installed") from exc
    html_dir = Path(html_dir).resolve()
    pages = book_pages(html_dir)
    if not pages:
        return [Problem(str(html_dir), "no pages", "no HTML page found: build the book first")]
    shots = Path(screenshots) if screenshots else None
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
    problems: list[Problem] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=find_chromium(), headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                                           "--disable-background-networking", "--disable-component-update",
                                           "--disable-sync", "--allow-file-access-from-files"])
        try:
            for path in pages:
                name = str(path.relative_to(html_dir))
                problems += _check_page(browser, path, name, shots, extra_paths, timeout_ms)
        finally:
            browser.close()
    return problems


def _check_page(browser, path: Path, name: str, shots: Path | None, extra_paths, timeout_ms) -> list[Problem]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    found: list[Problem] = []
    page.on("console", lambda m: m.type == "error" and found.append(Problem(name, "console error", m.text)))
    page.on("pageerror", lambda e: found.append(Problem(name, "page error", str(e))))
    page.on("requestfailed", lambda r: found.append(
        Problem(name, "failed request", f"{r.url} ({r.failure})")))
    try:
        response = page.goto(path.as_uri(), wait_until="load", timeout=timeout_ms)
        if response is not None and not response.ok:
            found.append(Problem(name, "page does not load", f"status {response.status}"))
        page.wait_for_timeout(500)
        page.evaluate("() => (window.MathJax && MathJax.startup && MathJax.startup.promise) || null")
        page.wait_for_timeout(300)
        for src in page.evaluate(_BROKEN_IMAGES):
            found.append(Problem(name, "image does not load", src))
        visible, prose = page.evaluate(_TEXTS)
        found += check_text(name, visible, prose, extra_paths)
        if "notebooks/" in name and page.locator(".cell_output").count() == 0:
            found.append(Problem(name, "empty chapter", "a notebook page without any output"))
        if re.search(r"\bnot executed\b", visible):
            found.append(Problem(name, "not executed", "the page says a chapter was not executed"))
        if shots:
            page.screenshot(path=str(shots / (name.replace("/", "__").removesuffix(".html") + ".png")),
                            full_page=True)
    except Exception as exc:  # a page that cannot be opened is itself the finding
        found.append(Problem(name, "page does not load", f"{type(exc).__name__}: {exc}"))
    finally:
        page.close()
    return found

"""Sphinx extension of the medadv book: pages that work offline and from ``file://``.

* Math renders without network: MathJax 3 (``tex-svg-full.js``: TeX input, SVG output, every TeX
  extension in one file, no web fonts) is copied from the ``django-static-mathjax`` package into
  the book's ``_static/mathjax/`` and used instead of the CDN copy Sphinx loads by default.
* Jupyter Book 1.x adds sphinx-thebe's and sphinx-togglebutton's configuration scripts twice to
  every page (a redeclared ``const``: a JavaScript error on each page); each script is kept once.
* The theme's colour mode defaults to light: pydata-sphinx-theme logs a console error on a
  reader's first visit when no mode is stored.
"""
from __future__ import annotations

import shutil
from pathlib import Path

MATHJAX_FILE = "tex-svg-full.js"


def _mathjax_source() -> Path:
    import mathjax  # the django-static-mathjax package: MathJax 3.2.2's files, no code

    return Path(mathjax.__file__).parent / "static" / "mathjax" / "es5" / MATHJAX_FILE


def _config_inited(app, config):
    config.mathjax_path = f"mathjax/{MATHJAX_FILE}"


def _copy_mathjax(app, exception):
    if exception is None and app.builder.format == "html":
        target = Path(app.outdir) / "_static" / "mathjax"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(_mathjax_source(), target / MATHJAX_FILE)


def _page_context(app, pagename, templatename, context, doctree):
    if not context.get("default_mode"):
        context["default_mode"] = "light"
    scripts, seen = [], set()
    for script in context.get("script_files", []):
        key = (getattr(script, "filename", None) or "", getattr(script, "attributes", {}).get("body"))
        if key not in seen:
            seen.add(key)
            scripts.append(script)
    context["script_files"] = scripts


def setup(app):
    _mathjax_source()  # fail at once, naming the missing package, rather than render raw TeX
    app.connect("config-inited", _config_inited)
    app.connect("html-page-context", _page_context, priority=900)
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

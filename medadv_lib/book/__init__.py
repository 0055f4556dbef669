"""The book: every chapter's run, the generated pages (status, scoreboard, replications) and the
Jupyter Book build (:mod:`.build`), and the headless-browser check of every page (:mod:`.browser`).
"""

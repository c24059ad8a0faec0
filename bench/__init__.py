"""mockseg's benchmark harness: each comparison runs both sides in one run, alternating.

Run it with ``python bench/run.py`` (``--smoke`` for tiny counts); see ``bench/README.md``.
"""

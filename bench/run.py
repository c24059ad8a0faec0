"""Run mockseg's benchmarks: ``python bench/run.py`` (full) or ``python bench/run.py --smoke``.

See bench/README.md for what each comparison measures.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, Python puts bench/ first on the path; the harness imports as ``bench.*``.
if sys.path and Path(sys.path[0] or ".").resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)
elif str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

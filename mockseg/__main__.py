from __future__ import annotations

import sys

from mockseg.cli import main

sys.exit(main())

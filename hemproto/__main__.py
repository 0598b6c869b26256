"""``python -m hemproto``: the same command line as ``hemproto``."""

import sys

from .cli import main

sys.exit(main())

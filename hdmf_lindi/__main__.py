"""``python -m hdmf_lindi``: the command line."""

import sys

from .cli import main

sys.exit(main())

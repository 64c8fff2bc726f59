"""`python -m dlcourse ...`: the same as the `dlcourse` command."""

import sys

from .cli import main

sys.exit(main())

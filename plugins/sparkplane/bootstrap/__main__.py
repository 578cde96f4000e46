"""``python -m sparkplane.bootstrap``: the command line of ``sparkplane.bootstrap.apply``."""

import sys

from sparkplane.bootstrap.apply import main

sys.exit(main())

"""``python -m sparkplane``: the ``sparkplane`` command without installing the package."""

import sys

from sparkplane.cli import main

sys.exit(main())

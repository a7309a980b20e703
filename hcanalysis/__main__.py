"""``python -m hcanalysis``: the ``hcanalysis`` command."""

import sys

from hcanalysis.cli import main

sys.exit(main())

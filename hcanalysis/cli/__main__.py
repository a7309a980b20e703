"""``python -m hcanalysis.cli``: the ``hcanalysis`` command."""

import sys

from hcanalysis.cli import main

sys.exit(main())

"""``python -m geneimpute.cli``: the ``geneimpute`` command."""

import sys

from . import main

sys.exit(main())

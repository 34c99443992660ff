"""``python -m geneimpute.cli``: the ``geneimpute`` command."""

from . import main

raise SystemExit(main())

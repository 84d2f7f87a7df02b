"""``python -m search.cli``: the ``shelf`` command."""

from search.cli.main import main

raise SystemExit(main())

"""Run debugtool as ``python -m debugtool``."""

from debugtool.cli import main

raise SystemExit(main())

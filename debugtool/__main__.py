"""Run debugtool as ``python -m debugtool``."""

from debugtool.cli import run

run()

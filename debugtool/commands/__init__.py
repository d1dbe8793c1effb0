"""Subcommands of the ``debugtool`` CLI, one module each (``register(subparsers)``, ``ORDER``)."""

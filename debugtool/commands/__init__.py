"""Subcommands of the ``debugtool`` CLI, one module each (``register(subparsers)``, ``ORDER``)."""

#: What a TARGET argument accepts (``debugtool.target`` resolves it), for every command's help.
TARGET_HELP = "id, id prefix, name, RUNTIME:NAME, pid:N or pod/NAME[/CONTAINER]"

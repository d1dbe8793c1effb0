"""debugtool: a debug-only exec and inspection toolkit for Linux containers."""

__version__ = "0.1.0"

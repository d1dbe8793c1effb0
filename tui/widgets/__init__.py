"""Widgets of the debugtool TUI; each declares the messages it emits as nested classes."""

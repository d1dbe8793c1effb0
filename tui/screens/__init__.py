"""Screens of the debugtool TUI: the containers list, a container's detail, and modal dialogs."""

"""Sub-commands of `sentinel`, one module per area; each module has `register(subparsers)`.

A module's commands print with `cli.emit`-style output and raise exceptions for errors;
`cli.main` turns any exception into one line on stderr (and `{"error": ...}` with --json).
"""

from __future__ import annotations

import importlib

# add a module name here when its file lands
MODULES: tuple[str, ...] = ("analysis", "tier", "api", "ask", "data", "zones", "alerts")


def register_all(registry: list) -> None:
    for name in MODULES:
        registry.append(importlib.import_module(f"cli_commands.{name}").register)

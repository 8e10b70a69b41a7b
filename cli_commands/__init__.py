"""Sub-commands of `sentinel`, one module per area; each module has `register(subparsers)`."""

from __future__ import annotations

import importlib

MODULES = ()


def register_all(registry: list) -> None:
    for name in MODULES:
        registry.append(importlib.import_module(f"cli_commands.{name}").register)

"""Small shared helpers for repositories."""

from __future__ import annotations


def one_or_none(rows: list[dict]) -> dict | None:
    """The single row, or None when there are none or several (ambiguous)."""
    return rows[0] if len(rows) == 1 else None

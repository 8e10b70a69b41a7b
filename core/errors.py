"""Errors every layer may raise and every front end knows how to show."""

from __future__ import annotations


class VideoNotFound(LookupError):
    """No video matches an id or a name; the message is one sentence that says how to list them."""

    def __init__(self, ref: object) -> None:
        super().__init__(f"No video matches {str(ref)!r}; `sentinel videos` lists them.")
        self.ref = ref

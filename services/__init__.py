"""Use cases, one module each: what the UI, the HTTP API and the CLI do, written once.

Every function takes the App first and keyword-only arguments after it, opens one pooled
connection for the repository calls it needs, and raises `VideoNotFound` (one class, one
message) for an unknown video.
"""

from core.errors import VideoNotFound

__all__ = ["VideoNotFound"]

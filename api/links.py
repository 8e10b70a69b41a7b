"""Links to stored objects (thumbnails, highlights, originals) as the API hands them out."""

from __future__ import annotations

from bootstrap import App
from db.objects import BlobNotFound, InvalidKey, ObjectArchived

URL_EXPIRES_S = 3600  # presigned thumbnail, highlight and video links live an hour


def object_url(app: App, key: str | None) -> str | None:
    """A presigned (S3) or file (folder) URL, or None when the object is missing or archived."""
    if not key:
        return None
    try:
        return app.store.url(key, expires_s=URL_EXPIRES_S)
    except (BlobNotFound, ObjectArchived, InvalidKey):
        return None

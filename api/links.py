"""Links to stored objects (thumbnails, highlights, originals) as the API hands them out.

S3 objects get presigned URLs. Folder-store objects get this API's own signed, expiring
`/media/<token>/<name>` links (api/media.py, the same tokens as the UI's media server), so a
client never sees a path of the server's disk.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from api.deps import Sentinel
from bootstrap import App
from db.objects import BlobNotFound, FolderStore, InvalidKey, ObjectArchived
from db.url_signing import UrlSigner

URL_EXPIRES_S = 3600  # presigned thumbnail, highlight and video links live an hour
MEDIA_PATH = "media"


class Links:
    """Object URLs for one request: `base_url` is the address the client reached the API by."""

    def __init__(self, app: App, base_url: str, signer: UrlSigner) -> None:
        self.app, self.base_url, self.signer = app, base_url.rstrip("/") + "/", signer

    def url(self, key: str | None) -> str | None:
        """A presigned (S3) or signed /media/ (folder) URL, or None when the object is missing or archived."""
        if not key:
            return None
        store = self.app.store
        try:
            presigned = store.url(key, expires_s=URL_EXPIRES_S)  # also checks the key (and, in a folder, the file)
        except (BlobNotFound, ObjectArchived, InvalidKey):
            return None
        if not isinstance(store, FolderStore):
            return presigned
        token = self.signer.token(key, expires_s=URL_EXPIRES_S)
        return f"{self.base_url}{MEDIA_PATH}/{token}/{quote(PurePosixPath(key).name)}"


def get_links(request: Request, sentinel: Sentinel) -> Links:
    return Links(sentinel, str(request.base_url), request.app.state.media_signer)


ObjectLinks = Annotated[Links, Depends(get_links)]

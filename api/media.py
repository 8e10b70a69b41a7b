"""`/media/<token>/<name>`: folder-store objects behind the signed, expiring links of api/links.py.

The token is the credential (like S3's presigned URLs), so the route needs no bearer token and an
`<img>` or `<video>` can load it; FileResponse answers Range requests, so players seek. It is not
in the OpenAPI document: clients only follow the links the other routes hand out.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from api.deps import Sentinel
from api.errors import error_response
from db.objects import BlobNotFound, FolderStore, InvalidKey, ObjectArchived

router = APIRouter(include_in_schema=False)


@router.api_route("/media/{token}/{name}", methods=["GET", "HEAD"])
def media(token: str, name: str, request: Request, sentinel: Sentinel) -> Response:
    key = request.app.state.media_signer.verify(token)
    if key is None:
        return error_response(403, "forbidden", "This link is invalid or has expired; ask the API for a new one.")
    store = sentinel.store
    if not isinstance(store, FolderStore):
        return error_response(404, "not_found", "No such object.")
    try:
        with store.local_path(key) as path:
            return FileResponse(path)
    except ObjectArchived:
        return error_response(409, "archived", "The object is archived; restore its video first.")
    except (BlobNotFound, InvalidKey):
        return error_response(404, "not_found", "No such object.")

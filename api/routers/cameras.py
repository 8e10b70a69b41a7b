"""`/v1/cameras` and `/v1/cameras/{name}/zones`: zones drawn once for every video of a camera."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from api.deps import AUTH, Sentinel
from api.errors import ApiError, error_responses
from api.routers.zones import ZoneOut, ZonesIn, zones_or_422

router = APIRouter(prefix="/v1/cameras", tags=["cameras"], dependencies=AUTH,
                   responses=error_responses(401, 422, 503))

CameraName = Path(min_length=1, max_length=100, description="the camera's name, as chosen at upload")


class CameraOut(BaseModel):
    name: str
    videos: int
    zones: int
    width: int | None = Field(None, description="frame width of its latest video: the pixels its zones are in")
    height: int | None = None


class CamerasOut(BaseModel):
    cameras: list[CameraOut]


class CameraZonesOut(BaseModel):
    camera: str
    width: int | None
    height: int | None
    zones: list[ZoneOut]


def _camera_or_404(call) -> Any:
    from services.zones import CameraNotFound

    try:
        return call()
    except CameraNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None


@router.get("", response_model=CamerasOut, summary="List cameras")
def get_cameras(sentinel: Sentinel) -> dict[str, Any]:
    from services.zones import list_cameras

    return {"cameras": list_cameras(sentinel)}


@router.get("/{name}/zones", response_model=CameraZonesOut, responses=error_responses(404),
            summary="A camera's zones")
def get_camera_zones(sentinel: Sentinel, name: str = CameraName) -> dict[str, Any]:
    from services.zones import camera_zones

    return _camera_or_404(lambda: camera_zones(sentinel, name=name))


@router.put("/{name}/zones", response_model=CameraZonesOut, responses=error_responses(400, 404),
            summary="Replace a camera's zones")
def put_camera_zones(body: ZonesIn, sentinel: Sentinel, name: str = CameraName) -> dict[str, Any]:
    """Zones in the pixels of the camera's latest video; every video of the camera uses them."""
    from services.zones import set_camera_zones

    zones = [z.model_dump() for z in body.zones]
    return _camera_or_404(lambda: zones_or_422(lambda: set_camera_zones(sentinel, name=name, zones=zones)))

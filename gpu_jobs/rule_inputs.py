"""What the behaviour rules read, stored per run so events can be re-derived without decoding or detecting.

`pack` turns a run's tracks (their sampled observations and attributes) and per-frame signals
into one compressed npz; `unpack` gives them back. Both go over the dataclasses' fields
generically, so a field added to `Observation` or `FrameSignal` later survives the round trip:
numbers and flags become one column each, boxes a (n, k) float32 array, arrays (keypoints,
motion) are stacked (float16 for the half-precision ones) or concatenated with their lengths
when ragged, None is a mask, and anything else (region, zone names) a JSON list. Where the
picture lies inside black bars (`picture`) rides in the metadata; inputs stored before it was
kept read back as None (the whole frame).

Example:
    >>> blob = pack(tracks, signals)
    >>> tracks2, signals2 = unpack(blob)
    >>> stored_picture(pack(tracks, signals, picture=(0, 32, 320, 208)))
    (0, 32, 320, 208)
"""

from __future__ import annotations

import dataclasses
import io
import json
from typing import Any

import numpy as np

from core.jsonable import jsonable
from gpu_jobs.types import FrameSignal, Observation, Track

FORMAT = 1
HALF = frozenset({"keypoints", "motion", "frame_motion"})  # stored as float16: pixels and flow need no more
_NESTED = frozenset({"observations"})  # Track fields stored as their own columns


def pack(tracks: list[Track], signals: list[FrameSignal] | None = None,
         picture: tuple[int, int, int, int] | None = None) -> bytes:
    """The run's tracks and signals (and the picture's bounds inside black bars) as one compressed npz (bytes)."""
    arrays: dict[str, np.ndarray] = {}
    observations = [o for t in tracks for o in t.observations]
    meta: dict[str, Any] = {
        "format": FORMAT,
        "tracks": [{f.name: jsonable(getattr(t, f.name)) for f in dataclasses.fields(Track)
                    if f.name not in _NESTED} for t in tracks],
        "track_lengths": [len(t.observations) for t in tracks],
        "observation": _pack_records("obs", observations, Observation, arrays),
        "signal": _pack_records("sig", list(signals or []), FrameSignal, arrays),
        "signal_count": len(signals or []),
        "picture": [int(v) for v in picture] if picture is not None else None,
    }
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def unpack(blob: bytes) -> tuple[list[Track], list[FrameSignal]]:
    """Tracks (with observations and attributes) and frame signals from `pack`'s bytes."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays.pop("meta").tobytes())
    if meta.get("format") != FORMAT:
        raise ValueError(f"Unknown rule-inputs format {meta.get('format')}.")
    observations = _unpack_records("obs", meta["observation"], sum(meta["track_lengths"]), Observation, arrays)
    tracks, start = [], 0
    names = {f.name for f in dataclasses.fields(Track)}
    for fields, n in zip(meta["tracks"], meta["track_lengths"]):
        kwargs = {k: v for k, v in fields.items() if k in names}
        tracks.append(Track(**kwargs, observations=observations[start:start + n]))
        start += n
    signals = _unpack_records("sig", meta["signal"], meta["signal_count"], FrameSignal, arrays)
    return tracks, signals


def stored_picture(blob: bytes) -> tuple[int, int, int, int] | None:
    """The picture's (x1, y1, x2, y2) that `pack` kept; None for the whole frame or inputs stored before it was kept."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
        meta = json.loads(npz["meta"].tobytes())
    picture = meta.get("picture")
    return tuple(int(v) for v in picture) if picture else None  # type: ignore[return-value]


def _pack_records(prefix: str, records: list, cls, arrays: dict[str, np.ndarray]) -> dict[str, dict]:
    """Columns of one dataclass's records into `arrays`; returns how each field was stored."""
    layout: dict[str, dict] = {}
    for f in dataclasses.fields(cls):
        key = f"{prefix}.{f.name}"
        values = [getattr(r, f.name) for r in records]
        present = np.array([v is not None for v in values], bool)
        given = [v for v in values if v is not None]
        entry: dict[str, Any] = {"kind": "none"}
        if given:
            if not present.all():
                arrays[key + ".mask"] = present
                entry["masked"] = True
            entry.update(_pack_column(key, f.name, given, arrays))
        layout[f.name] = entry
    return layout


def _pack_column(key: str, name: str, given: list, arrays: dict[str, np.ndarray]) -> dict:
    if all(isinstance(v, (bool, np.bool_)) for v in given):
        arrays[key] = np.array(given, bool)
        return {"kind": "bool"}
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in given):
        arrays[key] = np.array(given, np.int64)
        return {"kind": "int"}
    if all(isinstance(v, (int, float, np.integer, np.floating)) for v in given):
        arrays[key] = np.array(given, np.float64)
        return {"kind": "float"}
    if all(isinstance(v, np.ndarray) for v in given):
        dtype = given[0].dtype
        store = np.float16 if name in HALF and np.issubdtype(dtype, np.floating) else dtype
        shapes = {v.shape for v in given}
        if len(shapes) == 1:
            arrays[key] = np.stack(given).astype(store, copy=False)
            return {"kind": "array", "dtype": str(dtype)}
        arrays[key] = np.concatenate([v.reshape(-1, *given[0].shape[1:]) for v in given]).astype(store, copy=False)
        arrays[key + ".len"] = np.array([len(v) for v in given], np.int64)
        return {"kind": "ragged", "dtype": str(dtype)}
    if all(isinstance(v, (tuple, list)) and v and all(isinstance(x, (int, float, np.number)) for x in v)
           for v in given) and len({len(v) for v in given}) == 1:
        arrays[key] = np.array(given, np.float32)
        return {"kind": "tuple"}
    arrays[key] = np.frombuffer(json.dumps([jsonable(v) for v in given]).encode(), dtype=np.uint8)
    return {"kind": "json", "tuple": all(isinstance(v, tuple) for v in given)}


def _unpack_records(prefix: str, layout: dict[str, dict], n: int, cls, arrays: dict[str, np.ndarray]) -> list:
    known = {f.name for f in dataclasses.fields(cls)}
    columns: dict[str, list] = {}
    for name, entry in layout.items():
        if name not in known or entry["kind"] == "none":
            continue  # a field that no longer exists is dropped; a None one keeps its default
        key = f"{prefix}.{name}"
        mask = arrays.get(key + ".mask") if entry.get("masked") else None
        given = _unpack_column(key, entry, arrays)
        if mask is None:
            columns[name] = given
        else:
            it = iter(given)
            columns[name] = [next(it) if m else None for m in mask.tolist()]
    names = list(columns)
    rows = zip(*(columns[k] for k in names)) if names else ([] for _ in range(n))
    return [cls(**dict(zip(names, row))) for row in rows]


def _unpack_column(key: str, entry: dict, arrays: dict[str, np.ndarray]) -> list:
    kind = entry["kind"]
    data = arrays[key]
    if kind in ("bool", "int", "float"):
        return data.tolist()
    if kind == "tuple":
        return [tuple(r) for r in data.astype(np.float64).tolist()]
    if kind == "array":
        return list(data.astype(entry["dtype"], copy=False))
    if kind == "ragged":
        data = data.astype(entry["dtype"], copy=False)
        ends = np.cumsum(arrays[key + ".len"])
        return [data[e - n:e] for e, n in zip(ends.tolist(), arrays[key + ".len"].tolist())]
    values = json.loads(data.tobytes())
    return [tuple(v) if entry.get("tuple") and isinstance(v, list) else v for v in values]


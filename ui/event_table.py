"""The events table: a DataFrame with thumbnails for st.dataframe, and its CSV / JSON exports."""

from __future__ import annotations

import json
from typing import Sequence

import pandas as pd
import streamlit as st

from ui.data import as_plain
from ui.format import attributes_text, mmss
from ui.media import thumbnail_uri

MAX_THUMBNAILS = 200  # data URIs travel with the table; beyond this the column stays empty
EXPORT_COLUMNS = ("id", "video_id", "video_name", "track_number", "type", "t_start", "t_end", "at", "clock", "frame",
                  "bbox", "zone", "confidence", "attributes", "description", "keywords", "highlight_key", "created_at")


def event_frame(app, rows: Sequence[dict]) -> pd.DataFrame:
    """One row per event, as shown in the table."""
    return pd.DataFrame([{
        "id": r["id"],
        "video_id": str(r["video_id"]),
        "picture": thumbnail_uri(app, r.get("highlight_key"), 120) if i < MAX_THUMBNAILS else None,
        "video": r["video_name"],
        "type": r["type"],
        "start": mmss(r["t_start"]),
        "end": mmss(r["t_end"]),
        "when": r.get("at") or "",  # the footage's wall clock, for "what happened at 23:00?"
        "zone": r.get("zone") or "",
        "confidence": float(r["confidence"] or 0),
        "attributes": attributes_text(r.get("attributes")),
        "description": r["description"],
    } for i, r in enumerate(rows)])


# whose events the table shows: staff are those seen in a drawn staff area most of their time
PEOPLE = {"Everyone": None, "Customers": False, "Staff": True}


def zone_choices(rows: Sequence[dict]) -> list[str]:
    """The places the table can be narrowed to: each event's zone, the shelf a hand reached into, the staff area
    of a member of staff, its third."""
    places = {p for r in rows for p in (r.get("zone"), *((r.get("attributes") or {}).get(k)
                                                         for k in ("shelf", "staff_area", "region")))}
    return sorted(p for p in places if isinstance(p, str) and p)


def table_config() -> dict:
    return {
        "picture": st.column_config.ImageColumn("", width="small"),
        "confidence": st.column_config.ProgressColumn("confidence", min_value=0.0, max_value=1.0, format="%.2f"),
        "description": st.column_config.TextColumn("description", width="large"),
    }


def _export_rows(rows: Sequence[dict]) -> list[dict]:
    return [as_plain({k: r.get(k) for k in EXPORT_COLUMNS}) for r in rows]


def export_csv(rows: Sequence[dict]) -> str:
    frame = pd.DataFrame(_export_rows(rows), columns=list(EXPORT_COLUMNS))
    for col in ("attributes", "bbox", "keywords"):
        frame[col] = frame[col].map(lambda v: json.dumps(v) if v is not None else "")
    return frame.to_csv(index=False)


def export_json(rows: Sequence[dict]) -> str:
    return json.dumps(_export_rows(rows), indent=2, default=str)

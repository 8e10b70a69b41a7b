"""Writing one analysis run (tracks, events, frame stats) atomically, replacing the previous run."""

from __future__ import annotations

from typing import Any, Iterable
from uuid import UUID

import numpy as np
import psycopg
from psycopg.types.json import Jsonb


def write_run(conn: psycopg.Connection, *, video_id: UUID, run_id: UUID, tracks: Iterable[dict],
              events: Iterable[dict], frame_stats: Iterable[dict], rule_inputs: dict | None = None) -> dict[str, int]:
    """Insert the run's rows, make it current and drop older runs, all in one transaction.

    Track dicts: track_number, class_name, t_first, t_last, attributes, path.
    Event dicts: track_number, type, t_start, t_end, frame, bbox, zone, confidence, attributes,
    description, keywords, highlight_key, embedding (sequence of floats or None).
    Frame-stat dicts: t, frame, counts, region_counts, detections.
    rule_inputs: fps, frame_width, frame_height, data (bytes: what the rules read, to re-derive events).
    """
    with conn.transaction():
        # serialise writers of the same video so two runs cannot interleave their swap
        conn.execute("SELECT id FROM videos WHERE id = %s FOR UPDATE", (video_id,))
        track_ids: dict[int, int] = {}
        with conn.cursor() as cur:
            for t in tracks:
                cur.execute(
                    """INSERT INTO tracks (video_id, run_id, track_number, class_name, t_first, t_last,
                                         attributes, path)
                       VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
                    (video_id, run_id, t["track_number"], t["class_name"], t["t_first"], t["t_last"],
                     Jsonb(t.get("attributes") or {}), Jsonb(t.get("path") or [])),
                )
                track_ids[t["track_number"]] = cur.fetchone()["id"]
            event_rows = [
                _event_row(video_id, run_id, track_ids, e) for e in events
            ]
            cur.executemany(
                """INSERT INTO events (video_id, run_id, track_id, track_number, type, t_start, t_end, frame, bbox,
                                       zone, confidence, attributes, description, keywords, highlight_key, embedding)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT DO NOTHING""",
                event_rows,
            )
            stat_rows = [
                (video_id, run_id, s["t"], s["frame"], Jsonb(s.get("counts") or {}),
                 Jsonb(s.get("region_counts") or {}), Jsonb(s.get("detections") or []))
                for s in frame_stats
            ]
            cur.executemany(
                """INSERT INTO frame_stats (video_id, run_id, t, frame, counts, region_counts, detections)
                   VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING""",
                stat_rows,
            )
        if rule_inputs is not None:
            conn.execute(
                """INSERT INTO rule_inputs (video_id, run_id, fps, frame_width, frame_height, data)
                   VALUES (%s, %s, %s, %s, %s, %s)""",
                (video_id, run_id, float(rule_inputs["fps"]), int(rule_inputs["frame_width"]),
                 int(rule_inputs["frame_height"]), rule_inputs["data"]))
        conn.execute("UPDATE videos SET current_run_id = %s, updated_at = now() WHERE id = %s", (run_id, video_id))
        for table in ("events", "frame_stats", "tracks", "rule_inputs"):
            conn.execute(f"DELETE FROM {table} WHERE video_id = %s AND run_id <> %s", (video_id, run_id))
    return {"tracks": len(track_ids), "events": len(event_rows), "frame_stats": len(stat_rows)}


EVENT_COPY_COLUMNS = ("video_id", "run_id", "track_number", "type", "t_start", "t_end", "zone", "confidence",
                      "attributes", "description", "keywords", "highlight_key", "embedding")
_EVENT_COPY_TYPES = ["uuid", "uuid", "int4", "text", "float8", "float8", "text", "float4", "jsonb", "text",
                     "text[]", "text", "vector"]


def write_event_runs(conn: psycopg.Connection, runs: Iterable[tuple[UUID, UUID, list[dict]]]) -> int:
    """Many videos' runs of events only (imports: no tracks, frames or boxes), streamed with COPY.

    Each (video_id, run_id, events) becomes the video's current run and replaces its older
    runs, all in one transaction, like `write_run`. Event dicts as in `write_run`; their
    (type, track_number, t_start) must be unique per run (COPY has no ON CONFLICT).
    Returns the number of events written.
    """
    runs = list(runs)
    if not runs:
        return 0
    video_ids = [video_id for video_id, _, _ in runs]
    written = 0
    with conn.transaction():
        conn.execute("SELECT id FROM videos WHERE id = ANY(%s) ORDER BY id FOR UPDATE", (video_ids,))
        with conn.cursor() as cur:
            columns = ", ".join(EVENT_COPY_COLUMNS)
            with cur.copy(f"COPY events ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(_EVENT_COPY_TYPES)
                for video_id, run_id, events in runs:
                    for e in events:
                        vector = e.get("embedding")
                        copy.write_row((
                            video_id, run_id, e.get("track_number"), e["type"], e["t_start"], e["t_end"],
                            e.get("zone"), float(e.get("confidence", 0.0)), Jsonb(e.get("attributes") or {}),
                            e["description"], list(e.get("keywords") or []), e.get("highlight_key"),
                            None if vector is None else np.asarray(vector, dtype=np.float32)))
                        written += 1
        conn.execute(
            """UPDATE videos v SET current_run_id = r.run_id, updated_at = now()
               FROM unnest(%s::uuid[], %s::uuid[]) AS r(video_id, run_id) WHERE v.id = r.video_id""",
            (video_ids, [run_id for _, run_id, _ in runs]))
        for table in ("events", "frame_stats", "tracks", "rule_inputs"):
            conn.execute(f"""DELETE FROM {table} t USING videos v
                             WHERE t.video_id = v.id AND v.id = ANY(%s) AND t.run_id <> v.current_run_id""",
                         (video_ids,))
    return written


def rule_inputs_for(conn: psycopg.Connection, video_id: UUID) -> dict | None:
    """The current run's stored rule inputs (fps, frame_width, frame_height, data), or None."""
    return conn.execute(
        """SELECT r.* FROM rule_inputs r JOIN videos v ON v.id = r.video_id AND v.current_run_id = r.run_id
           WHERE r.video_id = %s""", (video_id,)).fetchone()


def replace_events(conn: psycopg.Connection, *, video_id: UUID, run_id: UUID, events: Iterable[dict]) -> int:
    """Replace the events of the video's current run (re-derived rules) in one transaction.

    Refuses (RuntimeError) when `run_id` is no longer current: a new analysis committed meanwhile.
    Event dicts as in `write_run`. Returns the number written; a failure leaves the old events.
    """
    with conn.transaction():
        video = conn.execute("SELECT current_run_id FROM videos WHERE id = %s FOR UPDATE", (video_id,)).fetchone()
        if video is None or video["current_run_id"] != run_id:
            raise RuntimeError("The video was analysed again meanwhile; derive its events again.")
        track_ids = {r["track_number"]: r["id"] for r in conn.execute(
            "SELECT id, track_number FROM tracks WHERE video_id = %s AND run_id = %s", (video_id, run_id))}
        conn.execute("DELETE FROM events WHERE video_id = %s AND run_id = %s", (video_id, run_id))
        rows = [
            _event_row(video_id, run_id, track_ids, e) for e in events
        ]
        with conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO events (video_id, run_id, track_id, track_number, type, t_start, t_end, frame, bbox,
                                       zone, confidence, attributes, description, keywords, highlight_key, embedding)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT DO NOTHING""",
                rows,
            )
        conn.execute("UPDATE videos SET updated_at = now() WHERE id = %s", (video_id,))
        # the written summary told the old events: it reads stale now (as after a new run)
        conn.execute("UPDATE summaries SET run_id = NULL WHERE video_id = %s", (video_id,))
    return len(rows)


def current_events(conn: psycopg.Connection, video_id: UUID) -> list[dict]:
    """The current run's events (without embeddings): what re-deriving may keep pictures of."""
    return conn.execute(
        """SELECT e.id, e.type, e.t_start, e.frame, e.bbox, e.highlight_key FROM events e
           JOIN videos v ON v.id = e.video_id AND v.current_run_id = e.run_id WHERE e.video_id = %s""",
        (video_id,)).fetchall()


def frame_stats_at_frames(conn: psycopg.Connection, video_id: UUID, run_id: UUID, frames: list[int]) -> list[dict]:
    return conn.execute(
        "SELECT t, frame, detections FROM frame_stats WHERE video_id = %s AND run_id = %s AND frame = ANY(%s)",
        (video_id, run_id, list(frames))).fetchall()


def highlight_keys(conn: psycopg.Connection, video_id: UUID) -> list[str]:
    """Every highlight key of the video, for deleting its objects."""
    rows = conn.execute(
        "SELECT highlight_key FROM events WHERE video_id = %s AND highlight_key IS NOT NULL", (video_id,)
    ).fetchall()
    return [r["highlight_key"] for r in rows]


def tracks_for_video(conn: psycopg.Connection, video_id: UUID) -> list[dict[str, Any]]:
    return conn.execute(
        """SELECT t.* FROM tracks t JOIN videos v ON v.id = t.video_id AND v.current_run_id = t.run_id
           WHERE t.video_id = %s ORDER BY t.track_number""",
        (video_id,),
    ).fetchall()


def without_people(conn: psycopg.Connection, video_ids: Iterable[UUID | str], person: str) -> list[UUID]:
    """Of these videos, those whose current run tracked no `person` track and found no event (nobody was seen)."""
    return [r["id"] for r in conn.execute(
        """SELECT v.id FROM videos v WHERE v.id = ANY(%s::uuid[]) AND v.current_run_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM tracks t WHERE t.video_id = v.id AND t.run_id = v.current_run_id
                           AND t.class_name = %s)
           AND NOT EXISTS (SELECT 1 FROM events e WHERE e.video_id = v.id AND e.run_id = v.current_run_id)
           ORDER BY v.created_at DESC""",
        ([str(v) for v in video_ids], person),
    ).fetchall()]


def frame_stats_between(conn: psycopg.Connection, video_id: UUID, t_from: float, t_to: float) -> list[dict]:
    return conn.execute(
        """SELECT s.* FROM frame_stats s JOIN videos v ON v.id = s.video_id AND v.current_run_id = s.run_id
           WHERE s.video_id = %s AND s.t BETWEEN %s AND %s ORDER BY s.t""",
        (video_id, t_from, t_to),
    ).fetchall()


def frame_stat_at(conn: psycopg.Connection, video_id: UUID, t: float) -> dict | None:
    """The stored frame nearest to time t."""
    return conn.execute(
        """SELECT s.* FROM frame_stats s JOIN videos v ON v.id = s.video_id AND v.current_run_id = s.run_id
           WHERE s.video_id = %s ORDER BY abs(s.t - %s) LIMIT 1""",
        (video_id, t),
    ).fetchone()


def frame_count(conn: psycopg.Connection, video_id: UUID, run_id: UUID | None) -> int:
    """Frames the run analysed (one frame_stats row each)."""
    return conn.execute("SELECT count(*) AS n FROM frame_stats WHERE video_id = %s AND run_id = %s",
                        (video_id, run_id)).fetchone()["n"]


def _event_row(video_id: UUID, run_id: UUID, track_ids: dict[int, int], e: dict) -> tuple:
    """One events row in the column order of the INSERT, from an event dict of the pipeline."""
    return (video_id, run_id, track_ids.get(e.get("track_number")), e.get("track_number"), e["type"],
            e["t_start"], e["t_end"], e.get("frame"), list(e["bbox"]) if e.get("bbox") is not None else None,
            e.get("zone"), float(e.get("confidence", 0.0)), Jsonb(e.get("attributes") or {}),
            e["description"], list(e.get("keywords") or []), e.get("highlight_key"),
            np.asarray(e["embedding"], dtype=np.float32) if e.get("embedding") is not None else None)

"""Video lifecycle: storage tiers, archive and restore, bucket lifecycle rules, and deleting a video.

Only the original video file moves between tiers; its thumbnail, highlights, events and summary
stay hot, so an archived video stays searchable. The store is the truth about an object's class
and restore state; the `videos` row mirrors it (`storage_tier`, `restore_state`,
`restore_expires_at`) so pages and the API can answer without a round trip to S3.

Every function takes the App and keyword-only arguments, and works on both BlobStore adapters:
S3 (storage classes, RestoreObject, the Restore header, bucket lifecycle rules) and the folder
(an archive subfolder with the same archived -> restoring -> restored state machine).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping
from uuid import UUID

from db.objects import CLASS_TIERS, TIER_CLASSES, BlobInfo, BlobNotFound, FolderStore, S3Store
from core.errors import VideoNotFound
from db.repos import events, runs, videos

log = logging.getLogger(__name__)

TIERS = ("hot", "warm", "archive")
ARCHIVE_CLASS = TIER_CLASSES["archive"]

# what the player shows instead of failing (the UI turns "archived" into a restore button)
REASON_NO_FILE = "no video file"
REASON_ARCHIVED = "archived — restore"
REASON_RESTORING = "archived — restore in progress"

# S3 refuses Standard-IA before 30 days and a Glacier transition less than 30 days after it
S3_MIN_WARM_DAYS = 30
S3_MIN_DAYS_IN_WARM = 30


class LifecycleUnsupported(RuntimeError):
    """The configured store has no bucket lifecycle rules (the folder store)."""


@dataclass(frozen=True, slots=True)
class TierResult:
    """The outcome of one tier operation on one video."""

    video_id: str
    name: str
    tier: str
    restore_state: str | None
    restore_expires_at: datetime | None
    changed: bool
    message: str
    ok: bool = True  # False when the operation could not be done (the message says why)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class DeleteResult:
    """What deleting one video removed."""

    video_id: str
    name: str
    deleted_keys: list[str] = field(default_factory=list)
    missing_keys: list[str] = field(default_factory=list)  # already gone before the delete: tolerated
    events: int = 0  # events of the current run that went with the video

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---- helpers ------------------------------------------------------------------------------------

def _now() -> datetime:
    return datetime.now(timezone.utc)


def _result(row: Mapping, *, changed: bool, message: str, ok: bool = True) -> TierResult:
    return TierResult(str(row["id"]), row["name"], row["storage_tier"], row["restore_state"],
                      row["restore_expires_at"], changed, message, ok)


def _get_video(app, video_id: UUID | str) -> dict:
    with app.db.connection() as conn:
        row = videos.get(conn, video_id)
    if row is None:
        raise VideoNotFound(video_id)
    return row


def _save(app, row: Mapping, **fields: Any) -> dict:
    """Update the row only where a field differs, and return the fresh row."""
    changes = {k: v for k, v in fields.items() if row[k] != v}
    if not changes:
        return dict(row)
    with app.db.connection() as conn:
        # a row deleted meanwhile keeps its last known state in the result
        return videos.update(conn, row["id"], **changes) or {**row, **changes}


def _row_state(info: BlobInfo, row: Mapping, restore_days: int) -> dict[str, Any]:
    """The row fields that mirror what the store says about the original."""
    tier = CLASS_TIERS.get(info.storage_class, "hot")
    if tier != "archive" or info.restore is None:
        return {"storage_tier": tier, "restore_state": None, "restore_expires_at": None}
    if info.restore == "ongoing":
        return {"storage_tier": "archive", "restore_state": "restoring", "restore_expires_at": None}
    # the folder store has no expiry of its own: keep ours while it runs, or start the window now
    expires = info.restore_expires_at or (None if _expired(row) else row["restore_expires_at"])
    expires = expires or (_now() + timedelta(days=restore_days))
    return {"storage_tier": "archive", "restore_state": "restored", "restore_expires_at": expires}


def _expired(row: Mapping) -> bool:
    expires = row["restore_expires_at"]
    return expires is not None and expires <= _now()


def _expire_folder_copy(store, row: Mapping, info: BlobInfo) -> BlobInfo:
    """The folder keeps restored copies forever: past the row's window, archive the copy again like S3 does."""
    if isinstance(store, FolderStore) and info.restore == "restored" and _expired(row):
        store.set_storage_class(row["storage_key"], info.storage_class)
        return store.head(row["storage_key"])
    return info


# ---- queries the service needs (parameterized, read-only) ----------------------------------------

def _videos_with_restore(conn) -> list[dict]:
    return conn.execute(
        "SELECT * FROM videos WHERE restore_state IS NOT NULL AND storage_key IS NOT NULL ORDER BY created_at"
    ).fetchall()


def _videos_with_files(conn) -> list[dict]:
    return conn.execute("SELECT * FROM videos WHERE storage_key IS NOT NULL ORDER BY created_at").fetchall()


def _restore_counts(conn) -> dict[str, int]:
    rows = conn.execute(
        "SELECT restore_state, count(*) AS n FROM videos WHERE restore_state IS NOT NULL GROUP BY restore_state"
    ).fetchall()
    return {r["restore_state"]: r["n"] for r in rows}


# ---- service functions --------------------------------------------------------------------------

def tier_stats(app) -> dict[str, Any]:
    """Videos and bytes per tier (all three tiers, zeros included) and restores in flight.

    Returns:
        `{"tiers": [{"tier": "hot", "videos": 3, "bytes": 123}, ...], "restoring": 0, "restored": 0,
        "store": "folder"}`.
    """
    with app.db.connection() as conn:
        found = {r["tier"]: r for r in videos.tier_stats(conn)}
        restores = _restore_counts(conn)
    tiers = [{"tier": t, "videos": int(found[t]["videos"]) if t in found else 0,
              "bytes": int(found[t]["bytes"]) if t in found else 0} for t in TIERS]
    return {"tiers": tiers, "restoring": restores.get("restoring", 0), "restored": restores.get("restored", 0),
            "store": app.store.name}


def archive_video(app, *, video_id: UUID | str) -> TierResult:
    """Move a video's original to the archive tier; its thumbnail and highlights stay hot.

    Archiving an archived video is a no-op. A video still waiting for or under analysis is not
    archived (the worker needs to read it).
    """
    row = _get_video(app, video_id)
    if not row["storage_key"]:
        return _result(row, changed=False, message="Nothing to archive: the video has no stored file.", ok=False)
    if row["status"] in ("pending", "processing"):
        return _result(row, changed=False, ok=False,
                       message="Not archived: the video is still waiting for or under analysis.")
    try:
        info = app.store.head(row["storage_key"])
    except BlobNotFound:
        return _result(row, changed=False, ok=False,
                       message=f"Not archived: {row['storage_key']} is missing from the object store.")
    if CLASS_TIERS.get(info.storage_class) == "archive":
        # already there (maybe by a bucket lifecycle rule): only make the row say so
        row = _save(app, row, **_row_state(info, row, app.settings.restore_days))
        return _result(row, changed=False, message="Already archived.")
    # store first, row second: a crash in between is repaired by the next archive or sync
    app.store.set_storage_class(row["storage_key"], ARCHIVE_CLASS)
    row = _save(app, row, storage_tier="archive", restore_state=None, restore_expires_at=None)
    log.info("archived video %s (%s)", row["id"], row["storage_key"])
    return _result(row, changed=True, message="Archived.")


def archive_older_than(app, *, days: float) -> list[TierResult]:
    """Archive every hot or warm video created more than `days` days ago; one result per video.

    A failure on one video is reported in its result and does not stop the others.
    """
    if days < 0:
        raise ValueError("--older-than must be zero or more days.")
    with app.db.connection() as conn:
        candidates = [r for r in videos.older_than(conn, days=days) if r["storage_tier"] != "archive"]
    results = []
    for row in candidates:
        try:
            results.append(archive_video(app, video_id=row["id"]))
        except Exception as exc:  # one bad object must not stop a nightly archive run
            log.warning("archiving video %s failed: %s", row["id"], exc)
            results.append(_result(row, changed=False, ok=False, message=f"Not archived: {exc}"))
    return results


def restore_video(app, *, video_id: UUID | str) -> TierResult:
    """Ask for an archived video to be readable again for `settings.restore_days` days.

    A video that is not archived is a no-op with a message; so is one already restored.
    S3 answers with a restore in progress (or done, on some S3-compatible stores); the folder
    store always starts "restoring" and `poll_restores` completes it.
    """
    row = _get_video(app, video_id)
    if not row["storage_key"]:
        return _result(row, changed=False, message="Nothing to restore: the video has no stored file.", ok=False)
    try:
        info = _expire_folder_copy(app.store, row, app.store.head(row["storage_key"]))
    except BlobNotFound:
        return _result(row, changed=False, ok=False,
                       message=f"Cannot restore: {row['storage_key']} is missing from the object store.")
    days = app.settings.restore_days
    tier = CLASS_TIERS.get(info.storage_class, "hot")
    if tier != "archive":
        row = _save(app, row, **_row_state(info, row, days))
        return _result(row, changed=False, message=f"Nothing to restore: the video is already {tier}.")
    if info.restore == "restored":
        row = _save(app, row, **_row_state(info, row, days))
        return _result(row, changed=False, message="Already restored.")
    if info.restore == "ongoing":
        row = _save(app, row, **_row_state(info, row, days))
        return _result(row, changed=False, message="A restore is already in progress.")
    app.store.request_restore(row["storage_key"], days=days)
    # read back what the store did: S3 may restore at once, Glacier usually takes hours
    row = _save(app, row, **_row_state(app.store.head(row["storage_key"]), row, days))
    log.info("restore requested for video %s: %s", row["id"], row["restore_state"])
    message = ("Restored." if row["restore_state"] == "restored"
               else "Restore requested; it becomes playable when the restore completes (`sentinel tier poll`).")
    return _result(row, changed=True, message=message)


def poll_restores(app) -> list[TierResult]:
    """Refresh every video with a restore in flight or done; one result per video looked at.

    S3: the HeadObject Restore header says ongoing or restored (with its expiry date); no header
    on an archived object means the restored copy expired. Folder: pending restores complete
    here, and a restored copy past its window is archived again.
    """
    store = app.store
    if isinstance(store, FolderStore):
        store.complete_restores()
    days = app.settings.restore_days
    with app.db.connection() as conn:
        rows = _videos_with_restore(conn)
    results = []
    for row in rows:
        before = (row["storage_tier"], row["restore_state"], row["restore_expires_at"])
        try:
            info = _expire_folder_copy(store, row, store.head(row["storage_key"]))
            row = _save(app, row, **_row_state(info, row, days))
        except BlobNotFound:
            results.append(_result(row, changed=False, ok=False,
                                   message=f"{row['storage_key']} is missing from the object store."))
            continue
        changed = before != (row["storage_tier"], row["restore_state"], row["restore_expires_at"])
        message = {"restoring": "Restore in progress.", "restored": "Restored."}.get(
            row["restore_state"], "The restored copy expired; the video is archived.")
        results.append(_result(row, changed=changed, message=message))
    return results


def sync_tiers(app) -> list[TierResult]:
    """Make every row's tier and restore state match the store (one HEAD per video).

    Bucket lifecycle rules move objects to Standard-IA and Glacier without telling the
    database; this catches up. Returns the videos whose row changed.
    """
    days = app.settings.restore_days
    with app.db.connection() as conn:
        rows = _videos_with_files(conn)
    results = []
    for row in rows:
        try:
            info = app.store.head(row["storage_key"])
        except BlobNotFound:
            results.append(_result(row, changed=False, ok=False,
                                   message=f"{row['storage_key']} is missing from the object store."))
            continue
        fresh = _save(app, row, **_row_state(info, row, days))
        if fresh["storage_tier"] != row["storage_tier"] or fresh["restore_state"] != row["restore_state"]:
            results.append(_result(fresh, changed=True, message=f"Now {fresh['storage_tier']}."))
    return results


def apply_lifecycle(app) -> dict:
    """Put the bucket lifecycle rules from settings on the S3 bucket and return them as read back.

    Videos go to Standard-IA after `tier_warm_after_days`, to Glacier after
    `tier_archive_after_days`; highlights expire after `highlight_expire_days`.
    Raises LifecycleUnsupported on the folder store and ValueError for days S3 would refuse.
    """
    store = app.store
    if not isinstance(store, S3Store):
        raise LifecycleUnsupported("The folder store has no lifecycle rules; archive old videos with "
                                   "`sentinel tier archive --older-than DAYS` instead.")
    s = app.settings
    if s.tier_warm_after_days < S3_MIN_WARM_DAYS:
        raise ValueError(f"SENTINEL_TIER_WARM_DAYS must be at least {S3_MIN_WARM_DAYS} (S3's minimum for "
                         f"Standard-IA); it is {s.tier_warm_after_days}.")
    if s.tier_archive_after_days < s.tier_warm_after_days + S3_MIN_DAYS_IN_WARM:
        raise ValueError(f"SENTINEL_TIER_ARCHIVE_DAYS must be at least {S3_MIN_DAYS_IN_WARM} days more than "
                         f"SENTINEL_TIER_WARM_DAYS; they are {s.tier_archive_after_days} and "
                         f"{s.tier_warm_after_days}.")
    if s.highlight_expire_days < 1:
        raise ValueError("SENTINEL_HIGHLIGHT_EXPIRE_DAYS must be at least 1.")
    store.apply_lifecycle(warm_after_days=s.tier_warm_after_days, archive_after_days=s.tier_archive_after_days,
                          highlight_expire_days=s.highlight_expire_days)
    return {"Rules": store.lifecycle()["Rules"]}


def delete_video(app, *, video_id: UUID | str) -> DeleteResult:
    """Delete a video: its original, thumbnail and every highlight, in every tier, then its rows.

    Objects go first so a failure leaves the rows in place and the delete can be retried;
    objects already missing are tolerated and reported. Events, tracks, jobs, stats and the
    summary go with the video row (ON DELETE CASCADE).
    """
    row = _get_video(app, video_id)
    with app.db.connection() as conn:
        highlight_keys = runs.highlight_keys(conn, row["id"])
        event_count = sum(events.counts_by_type(conn, row["id"]).values())
    keys = list(dict.fromkeys(k for k in (row["storage_key"], row["thumbnail_key"], *highlight_keys) if k))
    preview = f"previews/{row['id']}.mp4"  # the optional browser copy (gpu_jobs.preview.preview_key)
    if app.store.exists(preview):
        keys.append(preview)
    deleted, missing = [], []
    for key in keys:
        # FolderStore.delete clears the archive copy and its class too; S3 deletes any class
        (deleted if app.store.exists(key) else missing).append(key)
        app.store.delete(key)
    with app.db.connection() as conn:
        videos.delete(conn, row["id"])
    log.info("deleted video %s: %d objects (%d already missing)", row["id"], len(deleted), len(missing))
    return DeleteResult(str(row["id"]), row["name"], deleted, missing, event_count)


def playable(video: Mapping) -> tuple[bool, str]:
    """Whether the player can stream this video row now, and if not, why (for the button label).

    Example:
        >>> playable({"storage_key": "videos/a.mp4", "storage_tier": "archive", "restore_state": None})
        (False, 'archived — restore')
    """
    if not video.get("storage_key"):
        return False, REASON_NO_FILE
    if video.get("storage_tier") != "archive":
        return True, ""
    state = video.get("restore_state")
    if state == "restoring":
        return False, REASON_RESTORING
    if state == "restored" and not _expired({"restore_expires_at": video.get("restore_expires_at")}):
        return True, ""
    return False, REASON_ARCHIVED

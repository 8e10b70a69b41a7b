"""One settings object for the whole app, read from the environment and `.env`."""

from __future__ import annotations

import re
from datetime import tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """A per-user data folder (XDG), never the source tree."""
    import os

    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "sentinel"


class BehaviourThresholds(BaseSettings):
    """Thresholds of the behaviour rules; override with SENTINEL_RULE_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_RULE_", env_file=".env", extra="ignore")

    # speeds are in body heights per second so they do not depend on camera distance
    walking_speed: float = 0.25
    standing_speed: float = 0.12
    min_segment_s: float = 1.0
    sitting_aspect: float = 1.15  # bbox height / width below this (with bent knees) reads as sitting
    lying_aspect: float = 0.8  # bbox height / width below this reads as lying
    collapse_persist_s: float = 2.0
    collapse_drop_s: float = 1.5
    loitering_s: float = 30.0
    loitering_radius: float = 1.5  # in body heights
    loitering_fixture_s: float = 120.0  # at a shelf or till people stand to shop: loitering there takes this long
    crowding_people: int = 5
    crowding_persist_s: float = 2.0
    violent_limb_speed: float = 2.5  # wrist speed in body heights per second
    violent_distance: float = 0.8  # centre distance in body heights
    violent_persist_s: float = 0.6
    picking_dwell_s: float = 0.4
    anomaly_speed: float = 1.6  # running in a store is unusual
    anomaly_persist_s: float = 0.8
    # shared by several rules
    speed_window_s: float = 1.0  # speed is the displacement over this window, robust to box jitter
    max_gap_s: float = 1.0  # a longer hole in a run of observations ends the run
    keypoint_min_score: float = 0.3
    sitting_thigh_ratio: float = 0.5  # hip-to-knee height below this share of the torso reads as bent knees
    collapse_min_drop: float = 0.25  # hips must fall this far, in upright body heights
    picking_item_move: float = 0.3  # an item moved this far (body heights) has left its place
    picking_shelf_margin: float = 0.3  # an item this close (body heights) to a shelf starts "on" it
    theft_conceal_grace_s: float = 1.0  # the person stays visible this long after the item vanishes
    # picking from pose: distances in torso lengths (shoulders to hips) from the torso's centre line
    picking_reach: float = 1.0  # a wrist this far out is held out (arms swinging in a walk stay under ~0.9)
    picking_rest: float = 0.7  # a wrist this close is by the body (hanging arms are ~0.4)
    picking_return_s: float = 3.0  # the hand leaves the body, and comes back, within this of being held out
    picking_reach_max_s: float = 6.0  # held out longer, an arm leans or rests on a counter: no pick
    picking_bout_gap_s: float = 3.0  # one person's reaches into one place this close together are one picking event
    picking_height_change: float = 1.25  # box height this many times taller/shorter after a reach: sat down or stood up
    picking_lying_tilt: float = 60.0  # a lying-shaped box whose torso is this far (degrees) from upright is lying
    # concealment: after a pick, the hand hides what it took at the body
    conceal_window_s: float = 6.0  # the hand reaches the hiding place within this after the pick
    conceal_waist: float = 0.35  # a wrist this close (torso lengths) to a hip is at a pocket or the waistband
    conceal_torso: float = 0.3  # a wrist this close to the torso line, between chest and hips, is inside clothing
    conceal_dwell_s: float = 0.4  # the hand stays out of sight at the body (or at a bag) this long
    conceal_bag_reach: float = 0.5  # a wrist this close (torso lengths) to a bag's box is putting something in it
    violent_gap_s: float = 0.6  # fast-limb moments closer than this belong to one episode
    crowding_region_people: int = 4  # this many in one third of the frame is a crowd too
    flow_min_tracks: int = 3  # other walking tracks needed before a "typical flow" exists
    flow_consistency: float = 0.6  # length of their mean unit direction (1 = all the same way)
    against_flow_cos: float = -0.5  # cosine to the flow at or below this is "against" it
    against_flow_s: float = 2.0
    # collapse: a fast drop from standing to down, then staying down (seen down, or lost where they fell)
    collapse_head_drop: float = 0.35  # the head (box top) falls this far, in standing heights, within collapse_drop_s
    collapse_low_aspect: float = 1.4  # box height / width at or below this is down (crouched, on the floor, lying)
    collapse_floor_drop: float = 0.55  # seen down on after a drop this deep: on the floor, not on a chair
    collapse_floor_height: float = 0.55  # or seen down on at most this share of the standing height
    collapse_upright_aspect: float = 1.5  # the standing moment before a fall is at least this tall
    collapse_return_radius: float = 1.0  # someone standing this close (standing heights) after the drop: got up
    collapse_edge: float = 0.02  # a box this close (share of the frame) to its edge may be cut off
    # violent: the learned fight model over two-second windows (gpu_jobs/behaviours/models/fight.json), trained
    # with fall rooms, store clips and vtest.avi as negatives; grouped-CV figures in README, Behaviour models
    violent_model: bool = True
    violent_model_threshold: float | None = None  # fight probability a window needs; None: the model's own (CV)


class Settings(BaseSettings):
    """Everything configurable, with embedded, offline defaults."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(default_factory=default_data_dir, alias="SENTINEL_DATA_DIR")
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    s3_bucket: str | None = Field(default=None, alias="S3_BUCKET")
    s3_endpoint_url: str | None = Field(default=None, alias="S3_ENDPOINT_URL")
    s3_region: str = Field(default="us-east-1", alias="AWS_DEFAULT_REGION")
    # S3 calls retry in botocore's "standard" mode (back-off with jitter); the API's up-front check of an upload
    # tries once, so an upload fails with 503 within the connect timeout while jobs retry
    s3_retries: int = Field(default=3, ge=0, le=20, alias="SENTINEL_S3_RETRIES")
    s3_connect_timeout_s: float = Field(default=3.0, gt=0, alias="SENTINEL_S3_CONNECT_TIMEOUT_S")
    runner: Literal["local", "modal"] = Field(default="local", alias="SENTINEL_RUNNER")
    llm: str | None = Field(default=None, alias="SENTINEL_LLM")
    llm_base_url: str | None = Field(default=None, alias="SENTINEL_LLM_BASE_URL")
    # frame chat sends the frame image: None = when the model's LangChain profile says it takes images
    llm_vision: bool | None = Field(default=None, alias="SENTINEL_LLM_VISION")
    # the folder store's videos play from a signed-URL server on this port (0: any free port)
    media_port: int = Field(default=0, ge=0, le=65535, alias="SENTINEL_MEDIA_PORT")
    admin_password: SecretStr | None = Field(default=None, alias="SENTINEL_ADMIN_PASSWORD")
    api_token: SecretStr | None = Field(default=None, alias="SENTINEL_API_TOKEN")
    max_upload_mb: int = Field(default=2048, alias="SENTINEL_MAX_UPLOAD_MB")
    max_duration_s: float = Field(default=4 * 3600, alias="SENTINEL_MAX_DURATION_S")
    session_timeout_min: int = Field(default=60, alias="SENTINEL_SESSION_TIMEOUT_MIN")
    # the HTTP API against slow clients: a body that sends no byte this long is answered 408, and at most
    # this many uploads run at once (each holds one of anyio's 40 worker threads); one more is answered 429
    body_idle_timeout_s: float = Field(default=30.0, gt=0, alias="SENTINEL_BODY_IDLE_TIMEOUT_S")
    max_concurrent_uploads: int = Field(default=8, ge=1, le=32, alias="SENTINEL_MAX_CONCURRENT_UPLOADS")
    # how long an API request waits for a pooled database connection before it is answered 503 (the pool's 30 s
    # stays for the worker and the CLI)
    api_db_timeout_s: float = Field(default=5.0, gt=0, alias="SENTINEL_API_DB_TIMEOUT_S")

    # alerts: each new event of these types at this confidence or more is POSTed once to the webhook as JSON
    # with a Slack-style "text" line (the URL often holds a token: it is a secret and never logged)
    alert_webhook_url: SecretStr | None = Field(default=None, alias="SENTINEL_ALERT_WEBHOOK_URL")
    # where admins reach the app (e.g. https://sentinel.example.com): alerts then link to the moment in the video
    public_url: str | None = Field(default=None, alias="SENTINEL_PUBLIC_URL")
    # the store's wall clock: "today", and the hours of footage known only by its upload time
    timezone: str = Field(default="UTC", alias="SENTINEL_TIMEZONE")
    alert_types: str = Field(default="theft,collapse,violent", alias="SENTINEL_ALERT_TYPES")
    alert_min_confidence: float = Field(default=0.5, ge=0, le=1, alias="SENTINEL_ALERT_MIN_CONFIDENCE")
    alert_timeout_s: float = Field(default=5.0, gt=0, alias="SENTINEL_ALERT_TIMEOUT_S")
    alert_max_attempts: int = Field(default=8, ge=1, le=50, alias="SENTINEL_ALERT_MAX_ATTEMPTS")
    # "23:00-06:00": anyone seen in those hours of the footage's wall clock alerts once per person (store closed)
    alert_closed_hours: str | None = Field(default=None, alias="SENTINEL_ALERT_CLOSED_HOURS")

    # analysis
    analysis_fps: float = Field(default=5.0, alias="SENTINEL_ANALYSIS_FPS")
    detect_batch: int = Field(default=8, alias="SENTINEL_DETECT_BATCH")
    detector: Literal["auto", "yolo", "ssd"] = Field(default="auto", alias="SENTINEL_DETECTOR")
    yolo_weights: Path | None = Field(default=None, alias="SENTINEL_YOLO_WEIGHTS")
    pose_weights: Path | None = Field(default=None, alias="SENTINEL_POSE_WEIGHTS")
    # tuned on PETS09-S2L1 (bench/bench_pipeline.py): higher cuts false people more than it loses real ones
    detect_confidence: float = Field(default=0.45, alias="SENTINEL_DETECT_CONFIDENCE")
    # a fall candidate of SSD gets a second opinion from the packaged fall checkpoint on a crop (fall_check.py)
    fall_check: bool = Field(default=True, alias="SENTINEL_FALL_CHECK")
    fall_check_imgsz: int = Field(default=320, ge=64, le=1280, alias="SENTINEL_FALL_CHECK_IMGSZ")
    # auto = the package's ONNX export on OpenVINO when installed (no torch import), else the .pt via ultralytics
    fall_check_backend: Literal["auto", "openvino", "ultralytics"] = Field(
        default="auto", alias="SENTINEL_FALL_CHECK_BACKEND")
    # SSD views per frame: two half-frame views find far more of the small people of a wide CCTV frame
    detect_tiles: int = Field(default=2, ge=1, le=4, alias="SENTINEL_DETECT_TILES")
    # auto = OpenVINO when installed (about 3x cv2.dnn on a CPU), else OpenCV DNN
    ssd_backend: Literal["auto", "openvino", "opencv"] = Field(default="auto", alias="SENTINEL_SSD_BACKEND")
    # torch models on the CPU: auto = bfloat16 autocast where the CPU has it (AMX / AVX512-BF16)
    precision: Literal["auto", "fp32", "bf16"] = Field(default="auto", alias="SENTINEL_PRECISION")
    # a video longer than this is analysed as chunks side by side (0: never); neighbours share the overlap
    chunk_s: float = Field(default=300.0, ge=0, alias="SENTINEL_CHUNK_S")
    chunk_overlap_s: float = Field(default=4.0, ge=1.0, le=60.0, alias="SENTINEL_CHUNK_OVERLAP_S")
    job_max_attempts: int = Field(default=3, alias="SENTINEL_JOB_MAX_ATTEMPTS")
    job_lease_s: float = Field(default=60.0, alias="SENTINEL_JOB_LEASE_S")
    # a store or database outage defers the job (no attempt spent), backing off with jitter up to a cap
    job_retry_base_s: float = Field(default=2.0, gt=0, alias="SENTINEL_JOB_RETRY_BASE_S")
    job_retry_max_delay_s: float = Field(default=120.0, gt=0, alias="SENTINEL_JOB_RETRY_MAX_DELAY_S")
    job_retry_give_up_s: float = Field(default=6 * 3600.0, gt=0, alias="SENTINEL_JOB_RETRY_GIVE_UP_S")

    # retrieval
    embedding_model: str | None = Field(default=None, alias="SENTINEL_EMBEDDING_MODEL")
    embedding_dim: int = Field(default=384, alias="SENTINEL_EMBEDDING_DIM")
    # auto = OpenVINO on CPU-only machines (about 2x PyTorch), PyTorch when there is a GPU
    embedding_backend: Literal["auto", "openvino", "torch"] = Field(default="auto", alias="SENTINEL_EMBEDDING_BACKEND")
    reranker_model: str | None = Field(default=None, alias="SENTINEL_RERANKER_MODEL")
    # 400: recall@10 0.97 at 1M events for ~5 ms more than 100 (bench/results/retrieval.md)
    ef_search: int = Field(default=400, alias="SENTINEL_EF_SEARCH")
    # most memory an HNSW (re)build may take (at least 1 GB is used): 1M events need ~3.3 GB to stay in memory
    index_build_memory_mb: int = Field(default=4096, ge=64, alias="SENTINEL_INDEX_BUILD_MEMORY_MB")
    retrieve_k: int = Field(default=30, alias="SENTINEL_RETRIEVE_K")
    rerank_k: int = Field(default=5, alias="SENTINEL_RERANK_K")
    window_s: float = Field(default=10.0, alias="SENTINEL_WINDOW_S")

    # storage tiers (days)
    tier_warm_after_days: int = Field(default=30, alias="SENTINEL_TIER_WARM_DAYS")
    tier_archive_after_days: int = Field(default=90, alias="SENTINEL_TIER_ARCHIVE_DAYS")
    highlight_expire_days: int = Field(default=365, alias="SENTINEL_HIGHLIGHT_EXPIRE_DAYS")
    restore_days: int = Field(default=7, alias="SENTINEL_RESTORE_DAYS")

    rules: BehaviourThresholds = Field(default_factory=BehaviourThresholds)

    @field_validator("alert_webhook_url", "public_url", mode="after")
    @classmethod
    def _http_url(cls, value, info):
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if text is not None and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", text):
            name = "SENTINEL_ALERT_WEBHOOK_URL" if info.field_name == "alert_webhook_url" else "SENTINEL_PUBLIC_URL"
            raise ValueError(f"{name} must be an http:// or https:// URL")
        return value

    @field_validator("alert_types", mode="after")
    @classmethod
    def _known_alert_types(cls, value: str) -> str:
        from core.vocabulary import EVENT_TYPES

        kinds = [k.strip().lower() for k in value.split(",") if k.strip()]
        unknown = [k for k in kinds if k not in EVENT_TYPES]
        if unknown or not kinds:
            raise ValueError(f"SENTINEL_ALERT_TYPES names {', '.join(unknown) or 'no type'}; "
                             f"use a comma-separated list of {', '.join(EVENT_TYPES)}")
        return ",".join(dict.fromkeys(kinds))

    @property
    def alert_type_list(self) -> list[str]:
        return self.alert_types.split(",")

    @field_validator("alert_closed_hours", mode="after")
    @classmethod
    def _closed_hours(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        match = re.fullmatch(r"\s*([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-3]):([0-5]\d)\s*", value)
        if match is None or match.group(1, 2) == match.group(3, 4):
            raise ValueError(f"SENTINEL_ALERT_CLOSED_HOURS {value[:40]!r} is not two different times of day; "
                             "give it as 23:00-06:00")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        return f"{h1:02d}:{m1:02d}-{h2:02d}:{m2:02d}"

    @property
    def closed_hours(self) -> tuple[float, float] | None:
        """SENTINEL_ALERT_CLOSED_HOURS as seconds past midnight (the end before the start: past midnight)."""
        if self.alert_closed_hours is None:
            return None
        start, end = (int(t[:2]) * 3600.0 + int(t[3:]) * 60.0 for t in self.alert_closed_hours.split("-"))
        return start, end

    @field_validator("timezone", mode="after")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(value.strip())
        except (KeyError, ValueError, OSError):  # not found is a KeyError, a path-like name a ValueError
            raise ValueError("SENTINEL_TIMEZONE names no time zone; use an IANA name such as Europe/Berlin") from None
        return value.strip()

    @property
    def zone(self) -> tzinfo:
        """The store's time zone (SENTINEL_TIMEZONE)."""
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.timezone)

    @field_validator("data_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def blobs_dir(self) -> Path:
        return self.data_dir / "objects"

    @property
    def model_cache_dir(self) -> Path:
        """Models converted from the packaged weights (OpenVINO IR, compiled blobs)."""
        return self.data_dir / "cache" / "models"

    @property
    def pg_dir(self) -> Path:
        return self.data_dir / "pg"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests call `get_settings.cache_clear()` after changing env)."""
    return Settings()

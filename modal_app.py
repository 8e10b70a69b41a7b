"""Modal deployment: the GPU analysis function and the shareable HTTP endpoints.

Deploy with `modal deploy modal_app.py` (see README, "Deploying on Modal"). The file imports on a
laptop with no Modal token and no GPU: heavy imports happen inside the functions.
"""

from __future__ import annotations

from pathlib import Path

import modal
from modal.file_pattern_matcher import FilePatternMatcher

MINUTES = 60
ROOT = Path(__file__).resolve().parent
YOLO_WEIGHTS = "/models/yolo11n.pt"
YOLO_POSE_WEIGHTS = "/models/yolo11n-pose.pt"
LOCK = "/root/requirements.lock"

app = modal.App("sentinel")
# first-party code the containers import; pyproject only installs dependencies (a test checks it is complete)
LOCAL_SOURCES = ("api", "bootstrap", "cli", "cli_commands", "core", "db", "gpu_jobs", "rag", "services",
                 "settings")
# Modal ships only .py files of those by default; the behaviour models' weights and the SQL migrations go too
SHIPPED_FILES = ~FilePatternMatcher("**/*.py", "**/behaviours/models/*.json", "**/migrations/*.sql")


def _bake_weights() -> None:
    """Build step: download the YOLO11 checkpoints into the image once, so run time never downloads."""
    import shutil

    from ultralytics import YOLO

    Path("/models").mkdir(exist_ok=True)
    for name, dest in (("yolo11n.pt", YOLO_WEIGHTS), ("yolo11n-pose.pt", YOLO_POSE_WEIGHTS)):
        model = YOLO(name)
        shutil.copy(model.ckpt_path, dest)


image = (
    modal.Image.debian_slim(python_version="3.11")
    .apt_install("libgl1", "libglib2.0-0", "ffmpeg")
    # the releases the suite passed with (requirements.lock), as pip constraints, as scripts/setup.sh does
    .add_local_file(ROOT / "requirements.lock", LOCK, copy=True)
    .pip_install("torch==2.14.1", "torchvision==0.29.1", extra_options=f"-c {LOCK}")
    .pip_install_from_pyproject(str(ROOT / "pyproject.toml"), optional_dependencies=["llm"], extra_options=f"-c {LOCK}")
    .pip_install_from_requirements(str(ROOT / "requirements-nodeps.txt"), extra_options=f"--no-deps -c {LOCK}")
    .run_function(_bake_weights)
    .env({
        "SENTINEL_DETECTOR": "yolo",
        "SENTINEL_YOLO_WEIGHTS": YOLO_WEIGHTS,
        "SENTINEL_POSE_WEIGHTS": YOLO_POSE_WEIGHTS,
        "SENTINEL_RUNNER": "modal",
        "HF_HUB_OFFLINE": "1",
    })
    .add_local_python_source(*LOCAL_SOURCES, ignore=SHIPPED_FILES)
)

# DATABASE_URL points at a reachable Postgres with pgvector; S3_BUCKET and AWS keys at the store
secrets = [
    modal.Secret.from_name("sentinel-db", required_keys=["DATABASE_URL"]),
    modal.Secret.from_name("sentinel-s3", required_keys=["S3_BUCKET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]),
]


@app.function(
    image=image,
    gpu="L4",
    secrets=secrets,
    timeout=60 * MINUTES,
    retries=modal.Retries(max_retries=2, backoff_coefficient=2.0, initial_delay=10.0),
    max_containers=20,
    scaledown_window=2 * MINUTES,
)
def analyze_video(video_id: str, job_id: str | None = None) -> dict:
    """Analyse one stored video with the same pipeline as the local worker; progress goes to the database."""
    from bootstrap import get_app
    from gpu_jobs.worker import run_claimed_job

    return run_claimed_job(get_app(), video_id=video_id, job_id=job_id,
                           owner=f"modal:{modal.current_function_call_id() or 'local'}")


@app.function(
    image=image,
    gpu="L4",
    cpu=4.0,  # decoding 1080p at 15 fps is CPU work; the default share would starve the GPU
    secrets=secrets,
    timeout=30 * MINUTES,  # a chunk is SENTINEL_CHUNK_S (5 minutes) of video, plus stitching for the last one
    retries=modal.Retries(max_retries=2, backoff_coefficient=2.0, initial_delay=10.0),
    max_containers=20,
    scaledown_window=2 * MINUTES,
)
def analyze_chunk(video_id: str, job_id: str) -> dict:
    """Analyse one chunk of a long video (its job row says which seconds); the chunk that ends last stitches."""
    from bootstrap import get_app
    from gpu_jobs.worker import run_claimed_job

    return run_claimed_job(get_app(), video_id=video_id, job_id=job_id,
                           owner=f"modal:{modal.current_function_call_id() or 'local'}")


# alerts a run could not deliver (the webhook was down) are retried here, as the idle local worker does
ALERT_SWEEP = modal.Period(minutes=5)


@app.function(image=image, secrets=secrets, cpu=0.25, timeout=5 * MINUTES, schedule=ALERT_SWEEP)
def send_due_alerts() -> dict:
    """Send the alerts whose retry time has come ({"sent", "failed"}); nothing without SENTINEL_ALERT_WEBHOOK_URL."""
    from bootstrap import get_app
    from gpu_jobs.alerts import deliver_due

    return deliver_due(get_app())


# ---- shareable HTTP endpoints -------------------------------------------------------------------
# The FastAPI app of the api package at a stable URL: https://<workspace>--sentinel-api.modal.run
# (docs/deploy-modal.md). It runs on CPU; uploads queue `analyze_video` calls on GPUs.

API_MIN_CONTAINERS = 0  # 1 keeps a container warm (no cold start) but bills around the clock
API_SCALEDOWN_WINDOW = 5 * MINUTES  # idle time before a container stops; longer means fewer cold starts
API_MAX_INPUTS = 16  # requests one container serves at once (uploads and questions are I/O-bound)

# the bearer token every route but /health requires; SENTINEL_LLM (and its provider key) may sit here too
api_secrets = [*secrets, modal.Secret.from_name("sentinel-api", required_keys=["SENTINEL_API_TOKEN"])]

with image.imports():
    # imported at container start, so the memory snapshot already holds FastAPI, pydantic, psycopg, boto3...
    import api as sentinel_api


@app.function(
    image=image,
    secrets=api_secrets,
    cpu=2.0,
    memory=4096,
    timeout=10 * MINUTES,  # a request may outlive Modal's 150 s HTTP limit (the client follows a 303)
    min_containers=API_MIN_CONTAINERS,
    scaledown_window=API_SCALEDOWN_WINDOW,
    enable_memory_snapshot=True,
)
@modal.concurrent(max_inputs=API_MAX_INPUTS)
@modal.asgi_app(label="sentinel-api")
def web():
    """The HTTP API (the api package); refuses to start without SENTINEL_API_TOKEN, since a Modal URL is public."""
    from bootstrap import get_app

    sentinel = get_app()
    token = sentinel.settings.api_token.get_secret_value() if sentinel.settings.api_token else None
    sentinel_api.check_bind("0.0.0.0", token)
    return sentinel_api.create_app(sentinel, token=token)

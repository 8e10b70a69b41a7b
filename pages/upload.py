"""Upload: drop videos (or import from S3), see each file stored, analyse in one click, follow progress."""

import streamlit as st

from ui import data
from ui.auth import require_sign_in
from ui.bootstrap import get_app
from ui.progress import live, video_rows
from ui.upload import UploadOutcome, import_s3, recorded_at_error, show_outcome, store_upload

require_sign_in()

app = get_app()
settings = app.settings
st.title("Upload")

auto = st.toggle("Analyse automatically on upload", key="auto_analyze",
                 help="Off: each stored video waits for its Analyze button. On: analysis is queued at once.")
camera = st.text_input("Camera", key="upload_camera", max_chars=100, placeholder="from the file name",
                       help="The camera these videos come from: zones drawn once for a camera serve all its "
                            "videos. Blank: a name from each file name (without its date and time).")
recorded_at = st.text_input("Recording started at", key="upload_recorded_at", max_chars=40,
                            placeholder="from the file name, e.g. 2026-12-01 10:00",
                            help="When the footage starts on the camera's clock: counts by the hour and questions "
                                 "such as 'between 10:00 and 11:00' read it. Blank: a date and time in the file name.")
problem = recorded_at_error(recorded_at)
if problem:
    st.error(problem, icon=":material/schedule:")  # nothing is stored until the time reads right
files = st.file_uploader(
    f"Drop CCTV videos here — up to {settings.max_upload_mb} MB each (SENTINEL_MAX_UPLOAD_MB)",
    accept_multiple_files=True, key=f"uploader-{st.session_state.get('uploader_round', 0)}",
    help="MP4, MOV, AVI, MKV, WebM and other containers PyAV can decode.",
)
# outcomes of this session's uploads, by the uploader's file id, so a rerun never stores a file twice
outcomes: dict[str, dict] = st.session_state.setdefault("upload_outcomes", {})
for f in [] if problem else files or []:
    if f.file_id not in outcomes:
        outcomes[f.file_id] = store_upload(app, f, f.name, f.size, submit=auto, camera=camera,
                                           recorded_at=recorded_at).as_dict()

with st.expander("Import from S3", icon=":material/cloud_download:"):
    with st.form("s3-import", clear_on_submit=True, border=False):
        uri = st.text_input("S3 URI", key="upload_s3_uri", placeholder="s3://bucket/path/to/video.mp4")
        if st.form_submit_button("Import") and uri.strip() and not problem:
            outcomes[f"s3:{uri.strip()}"] = import_s3(app, uri, submit=auto, camera=camera,
                                                      recorded_at=recorded_at).as_dict()

if outcomes:
    for outcome in outcomes.values():
        show_outcome(UploadOutcome(**outcome))
    video_ids = list(dict.fromkeys(o["video_id"] for o in outcomes.values() if o["video_id"]))
    snap = data.poll_progress(app, video_ids=video_ids)
    waiting = [v for v in snap.rows if v["status"] in ("pending", "failed") and not v.get("job")]
    a, b = st.columns([1, 1])
    if waiting and a.button(f"Analyze {len(waiting)} video{'s' if len(waiting) > 1 else ''}", type="primary",
                            icon=":material/play_circle:", key="analyze_all"):
        for v in waiting:
            data.submit_analysis(app, video_id=v["id"])
        st.rerun()
    if b.button("Clear this list", icon=":material/clear_all:", key="clear_uploads"):
        outcomes.clear()
        # a new uploader key empties the drop zone too, so its files are not stored again
        st.session_state["uploader_round"] = st.session_state.get("uploader_round", 0) + 1
        st.rerun()
    if video_ids:
        st.subheader("Progress")
        live(lambda: data.poll_progress(app, video_ids=video_ids), lambda s: video_rows(app, s, key="uploads"))

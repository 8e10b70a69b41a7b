"""Storage: bytes and videos per tier; archive videos older than N days; restore, with status."""

import pandas as pd
import streamlit as st

from ui import data
from ui.auth import require_sign_in
from ui.bootstrap import get_app
from ui.format import ago, human_bytes
from ui.nav import video_link
from ui.notify import flash

require_sign_in()

app = get_app()
st.title("Storage")

stats = data.tier_stats(app)
st.caption(f"Object store: {stats['store']}. Only originals move between tiers; thumbnails, highlights, "
           "events and summaries stay hot, so archived videos stay searchable.")
cols = st.columns(len(stats["tiers"]) + 1)
for col, tier in zip(cols, stats["tiers"]):
    col.metric(tier["tier"].capitalize(), human_bytes(tier["bytes"]), f"{tier['videos']} videos", delta_color="off")
cols[-1].metric("Restores", f"{stats['restoring']} in progress", f"{stats['restored']} restored", delta_color="off")

st.subheader("Archive")
a, b = st.columns([1, 3], vertical_alignment="bottom")
days = a.number_input("Older than (days)", min_value=0, value=app.settings.tier_archive_after_days, step=1,
                      key="archive_days")
if b.button(f"Archive videos older than {days} days", icon=":material/archive:", key="archive_run"):
    with st.spinner("Archiving..."):
        results = data.archive_older_than(app, days=days)
    if results:
        st.dataframe(pd.DataFrame([{"video": r.name, "done": r.ok, "message": r.message} for r in results]),
                     hide_index=True, width="stretch")
    else:
        st.info(f"No hot or warm video is older than {days} days.")

st.subheader("Archived videos")
archived = [v for v in data.list_videos(app) if v["storage_tier"] == "archive"]
if archived and st.button("Check restore status", icon=":material/refresh:", key="poll_restores"):
    with st.spinner("Checking..."):
        data.poll_restores(app)
    st.rerun()
if not archived:
    st.caption("No archived videos.")
for v in archived:
    ok, reason = data.playable(v)
    with st.container(border=True):
        a, b, c = st.columns([3, 3, 1.4], vertical_alignment="center")
        with a:
            video_link(v["id"], v["name"], icon=":material/movie:")
            st.caption(f"{human_bytes(v['size_bytes'])} · uploaded {ago(v['created_at'])}")
        if v["restore_state"] == "restoring":
            b.markdown(":material/hourglass_top: restore in progress")
        elif ok:
            until = v["restore_expires_at"]
            b.markdown(":material/unarchive: restored" + (f" until {until:%Y-%m-%d %H:%M}" if until else ""))
        else:
            b.markdown(":material/inventory_2: archived")
            if c.button("Restore", icon=":material/unarchive:", key=f"restore_{v['id']}"):
                flash(data.restore_video(app, video_id=v["id"]).message)
                st.rerun()

if stats["store"] == "s3":
    st.subheader("Bucket lifecycle")
    st.caption(f"Videos move to Standard-IA after {app.settings.tier_warm_after_days} days and to Glacier after "
               f"{app.settings.tier_archive_after_days}; highlights expire after "
               f"{app.settings.highlight_expire_days} days.")
    if st.button("Apply these rules to the bucket", key="apply_lifecycle"):
        try:
            rules = data.apply_lifecycle(app)
            st.success(f"Applied {len(rules['Rules'])} rules.")
        except (ValueError, data.LifecycleUnsupported) as exc:
            st.error(str(exc))

"""Browser-playable copies of videos (no Streamlit here).

Browsers play H.264 in MP4 and VP8/VP9/AV1 in WebM, not the AVI/MPEG-4 Part 2 that CCTV
exports often are. Such originals get a preview copy (H.264 MP4, at most 1280 px wide, a key
frame every second so seeking is quick) stored next to them under `previews/`. The copy keeps
one output frame per input frame at the input rate, so event times map 1:1 onto the player.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path, PurePosixPath
from typing import Callable

log = logging.getLogger(__name__)

PLAYABLE = {
    ".mp4": {"h264", "av1"}, ".m4v": {"h264"}, ".mov": {"h264"},
    ".webm": {"vp8", "vp9", "av1"},
}
MAX_WIDTH = 1280
PREVIEW_PREFIX = "previews/"


def preview_key(video_id) -> str:
    """Where a video's browser copy is stored."""
    return f"{PREVIEW_PREFIX}{video_id}.mp4"


def browser_playable(storage_key: str | None, codec: str | None) -> bool:
    """Whether a browser's <video> can play the original as stored."""
    if not storage_key or not codec:
        return False
    return codec.lower() in PLAYABLE.get(PurePosixPath(storage_key).suffix.lower(), set())


def transcode(src: Path, dst: Path, *, on_progress: Callable[[float], None] | None = None) -> Path:
    """Re-encode a video as H.264 MP4 for the browser, frame for frame, at its own frame rate."""
    import av

    with av.open(str(src), metadata_errors="ignore") as inp:
        stream = inp.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        total = stream.frames or 0
        width, height = stream.codec_context.width, stream.codec_context.height
        if width > MAX_WIDTH:
            width, height = MAX_WIDTH, int(height * MAX_WIDTH / width)
        width, height = width - width % 2, height - height % 2  # yuv420p needs even sizes
        with av.open(str(dst), "w", format="mp4", options={"movflags": "+faststart"}) as out:
            rate = Fraction(rate).limit_denominator(10000)
            enc = out.add_stream("libx264", rate=rate)
            enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
            enc.options = {"preset": "veryfast", "crf": "28", "g": str(max(1, round(float(rate))))}
            for i, frame in enumerate(inp.decode(stream)):
                frame = frame.reformat(width=width, height=height, format="yuv420p")
                frame.pts, frame.time_base = i, 1 / rate
                for packet in enc.encode(frame):
                    out.mux(packet)
                if on_progress and total and i % 25 == 0:
                    on_progress(min(99.0, 100.0 * i / total))
            for packet in enc.encode():
                out.mux(packet)
    if on_progress:
        on_progress(100.0)
    return dst


class PreviewMaker:
    """Makes preview copies on a background thread, one at a time, and remembers their progress."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="preview")
        self._lock = threading.Lock()
        self._jobs: dict[str, Future] = {}
        self.progress: dict[str, float] = {}

    def status(self, app, video: dict, key: str) -> tuple[str, float, str | None]:
        """('ready' | 'working' | 'failed', percent, error) for this video's preview; starts it if needed."""
        with self._lock:
            future = self._jobs.get(key)
            if future is None or (future.done() and future.exception() is None and not app.store.exists(key)):
                if app.store.exists(key):
                    return "ready", 100.0, None
                self.progress[key] = 0.0
                future = self._jobs[key] = self._pool.submit(self._make, app, video["storage_key"], key)
        if not future.done():
            return "working", self.progress.get(key, 0.0), None
        if future.exception() is not None:
            error = str(future.exception()).strip().splitlines()[0] if str(future.exception()).strip() else \
                type(future.exception()).__name__
            return "failed", 0.0, error
        return "ready", 100.0, None

    def forget(self, key: str) -> None:
        """Drop a failed attempt so the next status() call tries again."""
        with self._lock:
            self._jobs.pop(key, None)

    def _make(self, app, source_key: str, key: str) -> None:
        def report(p: float) -> None:
            self.progress[key] = p

        with app.store.local_path(source_key) as src, tempfile.TemporaryDirectory(prefix="preview-") as tmp:
            out = transcode(Path(src), Path(tmp) / "preview.mp4", on_progress=report)
            with open(out, "rb") as f:
                app.store.put_stream(key, f, content_type="video/mp4")
        log.info("made the browser preview %s", key)

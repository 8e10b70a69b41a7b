"""Probing and decoding video with PyAV: metadata, poster frames and sampled frames on a background thread."""

from __future__ import annotations

import logging
import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Frame:
    """One decoded, sampled frame."""

    index: int  # frame number in the source video, 0-based
    t: float  # seconds from the start
    image: np.ndarray  # BGR uint8, HxWx3


class InvalidVideo(ValueError):
    """The input is not a decodable video; the message says why in one sentence."""


# a video read over HTTP (a presigned URL): ffmpeg fetches byte ranges, reconnecting when a read drops
_HTTP_OPTIONS = {"reconnect": "1", "reconnect_on_network_error": "1", "reconnect_delay_max": "4",
                 "reconnect_max_retries": "4"}
_HTTP_TIMEOUT_S = 60.0


class MediaUnreachable(ConnectionError):
    """A video behind a URL could not be read (network, TLS, an expired link): transient, the job retries."""


def is_url(source: Path | str) -> bool:
    return "://" in str(source) and not str(source).startswith("file://")


def _http_options(url: str) -> dict[str, str]:
    options = dict(_HTTP_OPTIONS)
    if url.startswith("https://"):
        import certifi

        # ffmpeg checks no certificate unless told to; botocore's bundle setting applies here too
        options.update(tls_verify="1", ca_file=os.environ.get("AWS_CA_BUNDLE") or certifi.where())
    return options


def _unreachable(source: Path | str, exc: BaseException) -> MediaUnreachable | None:
    """The error as MediaUnreachable when it is reading a URL that failed, not the video's content."""
    import av

    if not is_url(source) or isinstance(exc, av.error.InvalidDataError):
        return None
    if isinstance(exc, (OSError, av.error.FFmpegError)):  # refused, TLS, 4xx/5xx, the timeout's exit
        return MediaUnreachable(f"The video could not be read from the object store ({exc}).")
    return None


def _open(source: Path | str, **kwargs):
    """av.open of a path or an http(s) URL (read in byte ranges: a seek fetches only from there on)."""
    import av

    if not is_url(source):
        return av.open(str(source), **kwargs)
    try:
        return av.open(str(source), options=_http_options(str(source)), timeout=_HTTP_TIMEOUT_S, **kwargs)
    except Exception as exc:
        unreachable = _unreachable(source, exc)
        if unreachable is None:
            raise
        raise unreachable from exc


@dataclass(frozen=True, slots=True)
class VideoInfo:
    container: str
    codec: str
    duration_s: float
    fps: float
    width: int
    height: int
    frame_count: int

    def as_meta(self) -> dict:
        return {"duration_s": self.duration_s, "fps": self.fps, "width": self.width, "height": self.height,
                "codec": self.codec, "frame_count": self.frame_count}


def probe(path: Path | str) -> VideoInfo:
    """Read the container and decode the first frame; raise InvalidVideo for anything unusable."""
    import av

    if not is_url(path):
        path = Path(path)
        if not path.exists() or path.stat().st_size == 0:
            raise InvalidVideo("The file is empty.")
    try:
        container = _open(path, metadata_errors="ignore")
    except (av.error.InvalidDataError, av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise InvalidVideo("The file is not a video (no known container format).") from exc
    with container:
        streams = container.streams.video
        if not streams:
            raise InvalidVideo("The file has no video stream.")
        stream = streams[0]
        if container.format.name.endswith("_pipe") or container.format.name in ("image2", "gif", "apng", "webp"):
            raise InvalidVideo("The file is a still image, not a video.")
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        first = None
        try:
            for frame in container.decode(stream):
                first = frame
                break
        except av.error.FFmpegError as exc:
            raise InvalidVideo("The video stream cannot be decoded (corrupt or truncated).") from exc
        if first is None:
            raise InvalidVideo("The video has no decodable frames (header only or truncated).")
        duration = 0.0
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        frames = stream.frames or (int(round(duration * fps)) if fps else 0)
        if not duration and fps and frames:
            duration = frames / fps
        if fps <= 0 or fps > 1000:
            raise InvalidVideo("The video has no usable frame rate.")
        if frames == 0 or duration == 0:
            frames, duration = _count_frames(path, fps)
        if frames < 2:
            raise InvalidVideo("The file has a single frame: it is a still image, not a video.")
        return VideoInfo(container.format.name, stream.codec_context.name, round(duration, 3), round(fps, 3),
                         first.width, first.height, frames)


def _count_frames(path: Path, fps: float) -> tuple[int, float]:
    """Decode-count frames for containers that do not record their length."""
    n = 0
    with _open(path) as c:
        for _ in c.decode(video=0):
            n += 1
    if n == 0:
        raise InvalidVideo("The video has no decodable frames (header only or truncated).")
    return n, n / fps


def poster(path: Path | str, at_s: float = 1.0, max_width: int = 640) -> bytes:
    """A JPEG of the frame nearest `at_s` (or the first frame of short clips)."""
    with _open(path) as container:
        stream = container.streams.video[0]
        chosen = None
        for frame in container.decode(stream):
            chosen = frame
            if frame.time is not None and frame.time >= at_s:
                break
        if chosen is None:
            raise InvalidVideo("The video has no decodable frames.")
        return encode_jpeg(chosen.to_ndarray(format="bgr24"), max_width=max_width)


def encode_jpeg(image: np.ndarray, *, max_width: int = 640, quality: int = 85) -> bytes:
    import cv2

    h, w = image.shape[:2]
    if w > max_width:
        image = cv2.resize(image, (max_width, int(h * max_width / w)), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def read_frame_at(path: Path | str, t: float) -> np.ndarray:
    """The BGR frame nearest time t (seeks to the preceding keyframe, then decodes forward)."""
    with _open(path) as container:
        stream = container.streams.video[0]
        if stream.time_base:
            container.seek(int(max(0.0, t - 1.0) / stream.time_base), stream=stream, backward=True)
        best = None
        for frame in container.decode(stream):
            best = frame
            if frame.time is not None and frame.time >= t - 1e-3:
                break
        if best is None:
            raise InvalidVideo("No frame at that time.")
        return best.to_ndarray(format="bgr24")


def read_keyframes_near(path: Path | str, times: list[float]) -> list[np.ndarray]:
    """BGR frames near each time, from one open: the keyframe at or before it (no decoding forward).

    For looking at a video's look, not a moment: each costs one keyframe decode. A time whose
    frame will not decode is left out; an unreadable file raises as `_open` does.
    """
    import av

    frames = []
    with _open(path) as container:
        stream = container.streams.video[0]
        for t in times:
            try:
                if stream.time_base:
                    container.seek(int(max(0.0, t) / stream.time_base), stream=stream, backward=True)
                frame = next(container.decode(stream), None)
            except (av.error.FFmpegError, ValueError) as exc:
                log.debug("no frame near %.1f s of %s (%s)", t, path, exc)
                continue
            if frame is not None:
                frames.append(frame.to_ndarray(format="bgr24"))
    return frames


def sample_frames(path: Path | str, *, fps: float, start_s: float = 0.0, end_s: float | None = None,
                  queue_size: int = 16) -> Iterator[Frame]:
    """Yield frames at about `fps` per second, decoded by a background thread.

    Frame indices count every decoded frame from the start, so they match the source video
    (and MOTChallenge frame numbers minus one).
    """
    out: queue.Queue = queue.Queue(maxsize=queue_size)
    stop = threading.Event()
    done = object()

    def decode() -> None:
        try:
            with _open(path) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                src_fps = float(stream.average_rate or stream.guessed_rate or fps)
                step = max(1, int(round(src_fps / fps))) if fps > 0 else 1
                if start_s > 0 and stream.time_base:
                    container.seek(int(start_s / stream.time_base), stream=stream, backward=True)
                index = None
                for frame in container.decode(stream):
                    if stop.is_set():
                        return
                    t = float(frame.time) if frame.time is not None else 0.0
                    if index is None:
                        index = int(round(t * src_fps))
                    else:
                        index += 1
                    if t < start_s - 1e-6:
                        continue
                    if end_s is not None and t > end_s:
                        break
                    if index % step == 0:
                        out.put(Frame(index, round(index / src_fps, 4), frame.to_ndarray(format="bgr24")))
        except Exception as exc:  # surfaced to the consumer below
            out.put(exc)
        finally:
            out.put(done)

    worker = threading.Thread(target=decode, name="decode", daemon=True)
    worker.start()
    try:
        while True:
            item = out.get()
            if item is done:
                break
            if isinstance(item, Exception):
                raise (_unreachable(path, item) or InvalidVideo(f"Decoding failed part-way: {item}")) from item
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            try:
                out.get_nowait()
            except queue.Empty:
                worker.join(0.05)


def keyframe_times(path: Path | str, *, start_s: float = 0.0, end_s: float | None = None) -> list[float]:
    """Seconds of the keyframes between start_s and end_s, read from the packets (demuxed, never decoded)."""
    times: list[float] = []
    with _open(path) as container:
        stream = container.streams.video[0]
        if not stream.time_base:
            return times
        if start_s > 0:
            container.seek(int(start_s / stream.time_base), stream=stream, backward=True)
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            t = float(packet.pts * stream.time_base)
            if end_s is not None and t > end_s:
                break
            if packet.is_keyframe and t >= start_s - 1e-6:
                times.append(t)
    return times

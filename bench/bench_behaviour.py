"""Behaviour events (collapse, violent, theft/picking/concealment) on real labelled footage.

Goes through the product's public path only: starts `sentinel api` and one `sentinel worker` on a
fresh temporary SENTINEL_DATA_DIR (the app starts its embedded PostgreSQL there), uploads every
clip of the manifest through POST /v1/videos (multipart), polls GET /v1/videos/{id} until the job
ends, reads GET /v1/videos/{id}/events page by page, and scores the events against the labels.
Every process it starts (API, worker, the embedded PostgreSQL) is stopped at the end, also on
Ctrl-C or an error.

The clips are development data (../shared/datasets/behaviour, see its README), not a held-out
test: every report says so.

    .venv/bin/python bench/bench_behaviour.py                      # every clip, the baseline run
    .venv/bin/python bench/bench_behaviour.py --kind fall --limit 5
    .venv/bin/python bench/bench_behaviour.py --score-only bench/results/behaviour_events.json

Raw events are cached as JSON (--events-out, written after every clip) so `--score-only` rescores
them (with the current labels) without analysing anything. Results are prepended, dated, to
bench/results/behaviour.md; earlier runs stay below.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MANIFEST = ROOT.parent / "shared" / "datasets" / "behaviour" / "manifest.json"
DEFAULT_LABELS = ROOT / "bench" / "labels" / "category.json"
DEFAULT_EVENTS = ROOT / "bench" / "results" / "behaviour_events.json"
DEFAULT_RESULTS = ROOT / "bench" / "results" / "behaviour.md"

KINDS = ("fall", "fight", "shoplifting")  # the kinds that are scored; "other" clips only feed the cross-kind line
# event types that count for a kind besides the manifest's own "types" (concealment is a new event type)
EXTRA_TYPES = {"shoplifting": ["concealment"]}
BEFORE_S = 2.0  # a detection may start this long before a labelled window ...
AFTER_S = 4.0  # ... and this long after it and still count
EVENT_FIELDS = ("id", "type", "t_start", "t_end", "frame", "track_number", "confidence", "zone", "bbox",
                "attributes", "description")
RESULTS_TITLE = "# Behaviour events on real labelled footage (`bench/bench_behaviour.py`)"


class BenchError(Exception):
    """Bad input or a failed service: printed as one line, exit status 2."""


# ==== manifest and labels =======================================================================

@dataclass
class Clip:
    path: str  # relative to the manifest's folder, the key everywhere
    file: Path
    kind: str
    positive: bool
    duration_s: float
    windows: list[dict] = field(default_factory=list)  # {"t0", "t1", "kind", "note"}; empty: none labelled
    whole_clip: bool = False  # positive without timed labels: the window is the whole clip
    source: str = ""


def load_manifest(path: Path) -> tuple[list[Clip], dict[str, list[str]]]:
    """The clips and the event types per kind (EXTRA_TYPES added) of a behaviour manifest."""
    if not path.is_file():
        raise BenchError(f"No manifest at {path} (pass --manifest PATH to a behaviour manifest.json).")
    try:
        data = json.loads(path.read_text())
        raw_clips, raw_types = data["clips"], data["types"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise BenchError(f"{path} is not a behaviour manifest (JSON with 'clips' and 'types'): {exc}.") from None
    types = {k: sorted(set(v) | set(EXTRA_TYPES.get(k, []))) for k, v in raw_types.items()}
    clips = []
    for i, c in enumerate(raw_clips):
        try:
            duration = float(c["frames"]) / float(c["fps"])
            windows = [{"t0": float(t0), "t1": float(t1), "kind": c["kind"], "note": "manifest window"}
                       for t0, t1 in c.get("windows") or []]
            clips.append(Clip(path=c["path"], file=path.parent / c["path"], kind=c["kind"],
                              positive=bool(c["positive"]), duration_s=duration, windows=windows,
                              source=c.get("source", "")))
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
            raise BenchError(f"{path}: clip {i} lacks a valid path, kind, positive, fps or frames ({exc}).") from None
    return clips, types


def load_labels(path: Path) -> dict[str, list[dict]]:
    """Timed moments per clip path from a labels file (bench/labels/category.json's format)."""
    if not path.is_file():
        raise BenchError(f"No labels file at {path} (pass --labels PATH, or --no-labels).")
    try:
        data = json.loads(path.read_text())
        out = {}
        for clip_path, entry in data["clips"].items():
            moments = entry["moments"] if isinstance(entry, dict) else entry
            out[clip_path] = [{"t0": float(m["t0"]), "t1": float(m["t1"]), "kind": m["kind"],
                               "note": m.get("note", "")} for m in moments]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise BenchError(f"{path} is not a labels file (JSON {{'clips': {{path: {{'moments': [...]}}}}}}): "
                         f"{exc}.") from None
    return out


def load_zones(path: Path) -> dict[str, list[dict]]:
    """Zones per clip path (pixels of the clip), drawn from the store's layout: {"clips": {path: [zone, ...]}}."""
    try:
        data = json.loads(path.read_text())
        return {clip: list(zones) for clip, zones in data["clips"].items()}
    except (OSError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise BenchError(f"{path} is not a zones file ({{\"clips\": {{path: [zones]}}}}): {exc}.") from None


def apply_labels(clips: list[Clip], labels: dict[str, list[dict]]) -> None:
    """Labelled moments replace a clip's windows; a positive clip still without any gets the whole clip."""
    for clip in clips:
        if labels.get(clip.path):
            clip.windows = [dict(m) for m in labels[clip.path]]
        if clip.positive and not clip.windows:
            clip.windows = [{"t0": 0.0, "t1": clip.duration_s, "kind": clip.kind, "note": "whole clip"}]
            clip.whole_clip = True


def select(clips: list[Clip], kind: str | None, limit: int | None) -> list[Clip]:
    chosen = [c for c in clips if kind is None or c.kind == kind]
    if limit is not None:
        per_kind: dict[str, int] = {}
        kept = []
        for c in chosen:
            per_kind[c.kind] = per_kind.get(c.kind, 0) + 1
            if per_kind[c.kind] <= limit:
                kept.append(c)
        chosen = kept
    return chosen


# ==== the services ==============================================================================

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes_using(folder: Path) -> list[int]:
    """Pids of live processes whose command line names `folder` (the embedded PostgreSQL, its workers)."""
    needle = str(folder)
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in cmdline:
            pids.append(int(entry.name))
    return pids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] != "Z"
    except OSError:
        return False


class Services:
    """`sentinel api` + `sentinel worker` on a fresh data folder; a context manager that stops them all."""

    def __init__(self, product: Path, *, keep_data: bool = False, startup_timeout_s: float = 300.0) -> None:
        self.product = product
        self.keep_data = keep_data
        self.startup_timeout_s = startup_timeout_s
        self.data_dir = Path(tempfile.mkdtemp(prefix="sentinel-bench-behaviour-"))
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_urlsafe(24)
        self.children: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "S3_BUCKET", "S3_ENDPOINT_URL", "SENTINEL_RUNNER")}
        env.update(SENTINEL_DATA_DIR=str(self.data_dir), SENTINEL_API_TOKEN=self.token, SENTINEL_RUNNER="local",
                   PYTHONUNBUFFERED="1")
        return env

    def _start(self, name: str, *args: str) -> None:
        log = self.data_dir / f"{name}.log"
        self.logs[name] = log
        with open(log, "wb") as out:
            # own session: a Ctrl-C in the terminal reaches the bench, which then stops the children in order
            self.children[name] = subprocess.Popen(
                [sys.executable, str(self.product / "cli.py"), *args], cwd=self.data_dir, env=self._env(),
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def log_tail(self, name: str, lines: int = 5) -> str:
        try:
            return " | ".join(self.logs[name].read_text(errors="replace").strip().splitlines()[-lines:])
        except (OSError, KeyError):
            return ""

    def check_alive(self) -> None:
        for name, child in self.children.items():
            if child.poll() is not None:
                raise BenchError(f"`sentinel {name}` exited with code {child.returncode}: {self.log_tail(name)}")

    def __enter__(self) -> Services:
        try:
            self._start("api", "api", "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning")
            self._wait_for_api()
            self._start("worker", "worker")
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _wait_for_api(self) -> None:
        import httpx

        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                status = httpx.get(f"{self.base}/health", timeout=30).status_code
            except httpx.HTTPError:
                status = None
            if status == 200:
                return
            if status is not None and status != 503:  # 503: the database is not up yet
                print(f"bench_behaviour: warning: GET /health answered HTTP {status}; going on "
                      f"({self.log_tail('api', 1)})", file=sys.stderr)
                return
            time.sleep(0.5)
        raise BenchError(f"`sentinel api` did not answer on {self.base} within {self.startup_timeout_s:.0f} s: "
                         f"{self.log_tail('api')}")

    def stop(self) -> None:
        """Stop the worker, then the API (the last one out stops PostgreSQL), then anything left in the folder."""
        # SIGINT for the API: on SIGTERM uvicorn re-raises the signal after its shutdown, so the process dies
        # before its exit hooks run and the embedded PostgreSQL it started is left running
        for name, sig in (("worker", signal.SIGTERM), ("api", signal.SIGINT)):
            child = self.children.get(name)
            if child is None or child.poll() is not None:
                continue
            child.send_signal(sig)
            try:
                child.wait(60)
            except subprocess.TimeoutExpired:
                print(f"bench_behaviour: `sentinel {name}` did not stop within 60 s; killing it", file=sys.stderr)
                child.kill()
                child.wait(10)
        left = [pid for pid in _processes_using(self.data_dir) if _alive(pid)]
        if left:
            # an embedded PostgreSQL orphaned by a killed child: SIGINT is PostgreSQL's fast shutdown
            print(f"bench_behaviour: stopping {len(left)} process(es) still using {self.data_dir}: {left}",
                  file=sys.stderr)
            for pid in left:
                try:
                    os.kill(pid, signal.SIGINT)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and any(_alive(p) for p in left):
                time.sleep(0.5)
            for pid in left:
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
        still = [pid for pid in _processes_using(self.data_dir) if _alive(pid)]
        if still:
            print(f"bench_behaviour: processes still use {self.data_dir}: {still}", file=sys.stderr)
        elif not self.keep_data:
            import shutil

            shutil.rmtree(self.data_dir, ignore_errors=True)


# ==== one clip through the API ==================================================================

class ApiClient:
    def __init__(self, services: Services) -> None:
        import httpx

        self.services = services
        self.http = httpx.Client(base_url=services.base, timeout=120,
                                 headers={"Authorization": f"Bearer {services.token}"})

    def _json(self, response) -> Any:
        if response.status_code >= 400:
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:200]
            raise BenchError(f"{response.request.method} {response.request.url.path}: "
                             f"HTTP {response.status_code}: {message}")
        return response.json()

    def upload(self, file: Path) -> dict:
        with open(file, "rb") as f:
            return self._json(self.http.post("/v1/videos", files={"file": (file.name, f, "video/mp4")}))

    def video(self, video_id: str) -> dict:
        return self._json(self.http.get(f"/v1/videos/{video_id}"))

    def events(self, video_id: str) -> list[dict]:
        items, offset = [], 0
        while offset is not None:
            page = self._json(self.http.get(f"/v1/videos/{video_id}/events",
                                            params={"limit": 500, "offset": offset}))
            items += [{k: e.get(k) for k in EVENT_FIELDS} for e in page["items"]]
            offset = page["next_offset"]
        return items

    def draw_zones(self, video_id: str, zones: list[dict]) -> dict:
        """The store's zones drawn as an owner would (PUT .../zones), then the events re-derived on them."""
        self._json(self.http.put(f"/v1/videos/{video_id}/zones", json={"zones": zones}))
        return self._json(self.http.post(f"/v1/videos/{video_id}/rules"))

    def run_clip(self, clip: Clip, *, poll_s: float = 0.25, zones: list[dict] | None = None) -> dict:
        """Upload, wait for the analysis, draw the clip's zones if any, read the events; one record for the cache."""
        timeout_s = 300 + 30 * clip.duration_s
        started = time.monotonic()
        accepted = self.upload(clip.file)
        upload_s = time.monotonic() - started
        video_id = accepted["video_id"]
        status, video = accepted["status"], None
        while True:
            video = self.video(video_id)
            status = video["status"]
            if status in ("completed", "failed"):
                break
            if time.monotonic() - started > timeout_s:
                status = "timeout"
                break
            self.services.check_alive()
            time.sleep(poll_s)
        wall_s = time.monotonic() - started
        job = video.get("job") or {}
        job_s = None
        if job.get("started_at") and job.get("finished_at"):
            job_s = (datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])
                     ).total_seconds()
        record = {"video_id": video_id, "status": status, "duplicate": accepted["duplicate"],
                  "error": video.get("error") or job.get("error"), "attempts": job.get("attempts"),
                  "wall_s": round(wall_s, 3), "upload_s": round(upload_s, 3),
                  "job_s": round(job_s, 3) if job_s is not None else None,
                  "api_duration_s": video.get("duration_s"), "events": []}
        if status == "completed" and zones:
            record["zones"] = [z["name"] for z in zones]
            record["rules_s"] = self.draw_zones(video_id, zones)["elapsed_s"]
        if status == "completed":
            record["events"] = self.events(video_id)
        return record


# ==== scoring ===================================================================================

def _overlaps(event: dict, window: dict) -> bool:
    return event["t_start"] <= window["t1"] + AFTER_S and event["t_end"] >= window["t0"] - BEFORE_S


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def score_kind(kind: str, types: list[str], clips: list[Clip], records: dict[str, dict]) -> dict:
    """The metrics of one kind over its clips (see the definitions in the results file)."""
    own = [c for c in clips if c.kind == kind and c.path in records]
    positives = [c for c in own if c.positive]
    negatives = [c for c in own if not c.positive]
    det_pos = det_neg = inside = windows = windows_hit = clips_hit = 0
    by_moment: dict[str, list[int]] = {}
    for clip in own:
        dets = [e for e in records[clip.path]["events"] if e["type"] in types]
        if not clip.positive:
            det_neg += len(dets)
            continue
        det_pos += len(dets)
        inside += sum(1 for e in dets if any(_overlaps(e, w) for w in clip.windows))
        hit_here = 0
        for w in clip.windows:
            hit = any(_overlaps(e, w) for e in dets)
            windows += 1
            windows_hit += hit
            hit_here += hit
            tally = by_moment.setdefault(w["kind"], [0, 0])
            tally[0] += hit
            tally[1] += 1
        clips_hit += hit_here > 0
    precision = _ratio(inside, det_pos + det_neg)
    recall = _ratio(clips_hit, len(positives))
    f1 = None
    if recall is not None:
        f1 = 0.0 if not precision or not recall else 2 * precision * recall / (precision + recall)
    failed = [c.path for c in own if records[c.path]["status"] != "completed"]
    return {"kind": kind, "types": types, "clips": len(own), "positives": len(positives),
            "negatives": len(negatives), "detections": det_pos + det_neg, "detections_negative": det_neg,
            "inside": inside, "precision": precision, "recall": recall, "f1": f1,
            "clips_hit": clips_hit, "windows": windows, "windows_hit": windows_hit,
            "windows_hit_share": _ratio(windows_hit, windows), "by_moment": by_moment,
            "false_alarms_per_negative": _ratio(det_neg, len(negatives)),
            "whole_clip_windows": sum(1 for c in positives if c.whole_clip), "failed": failed}


def speed(clips: list[Clip], records: dict[str, dict]) -> dict:
    done = [c for c in clips if c.path in records and records[c.path]["status"] == "completed"
            and not records[c.path].get("duplicate")]
    wall = sum(records[c.path]["wall_s"] for c in done)
    job = sum(records[c.path]["job_s"] or 0.0 for c in done)
    video = sum(c.duration_s for c in done)
    return {"clips": len(done), "video_s": video, "wall_s": wall, "job_s": job,
            "wall_per_video_s": _ratio(wall, video), "job_per_video_s": _ratio(job, video)}


def cross_kind(types: dict[str, list[str]], clips: list[Clip], records: dict[str, dict]) -> list[dict]:
    """Detections of each kind's types on the clips of the other kinds (all of them negatives for it)."""
    rows = []
    for kind in KINDS:
        for other in sorted({c.kind for c in clips} - {kind}):
            group = [c for c in clips if c.kind == other and c.path in records]
            if not group:
                continue
            n = sum(1 for c in group for e in records[c.path]["events"] if e["type"] in types.get(kind, []))
            rows.append({"kind": kind, "on": other, "clips": len(group), "detections": n,
                         "per_clip": n / len(group)})
    return rows


# ==== the report ================================================================================

def _f(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


DEFINITIONS = f"""\
**Development data, not a held-out test.** The clips are `../shared/datasets/behaviour/`
(Le2i and GMDCSA-24 falls, the Surveillance Camera Fight Dataset, UCF-Crime-style store clips);
the rules were written while looking at some of them. Read every number below as a development
measurement.

How it runs: `sentinel api` and one `sentinel worker` on a fresh temporary data folder (embedded
PostgreSQL), each clip uploaded through `POST /v1/videos`, one at a time, its status polled every
0.25 s on `GET /v1/videos/{{id}}`, its events read from `GET /v1/videos/{{id}}/events`. Raw events
are cached in `bench/results/behaviour_events.json`; `--score-only` rescores them.

Definitions (per kind; the event types of a kind are the manifest's `types`, plus `concealment`
for shoplifting):

- **window**: a labelled time span of a positive clip: the manifest's windows (falls: the
  annotated fall), the moments of `bench/labels/category.json` for the store clips (picking,
  concealment, theft), and the whole clip `[0, duration]` for a positive clip without timed
  labels (every fight clip of the Surveillance Camera Fight Dataset and the category-only
  fighting clips).
- **detection**: an event of one of the kind's types on a clip of that kind. A detection is
  **inside** a window when `[t_start, t_end]` overlaps the window widened by {BEFORE_S:g} s before and
  {AFTER_S:g} s after.
- **precision** = detections inside a window / all detections of the kind's types on its positive
  and negative clips.
- **recall** (clip level) = positive clips with at least one window hit / positive clips
  (a window is **hit** when at least one detection is inside it).
- **windows hit** = windows hit / windows.
- **F1** = 2PR / (P + R); 0 when nothing is detected (precision undefined) or nothing is found.
- **false alarms per negative clip** = detections on the kind's negative clips / its negative clips.
- A clip whose analysis failed or timed out counts as a clip without detections (and is listed).
- **wall s per video s** = sum of wall time / sum of clip durations (the manifest's frames / fps),
  where wall time runs from the start of the upload to the poll that sees the job completed (it
  includes the upload, the worker's 1 s queue poll and the bench's 0.25 s status poll; the first
  clip also pays the worker's model warm-up). **job s per video s** uses the job's own
  `started_at` .. `finished_at` instead. Duplicates (same bytes as an earlier clip) are left out.
"""


def render_section(meta: dict, clips: list[Clip], types: dict[str, list[str]], records: dict[str, dict]) -> str:
    scores = [score_kind(k, types.get(k, []), clips, records) for k in KINDS
              if any(c.kind == k and c.path in records for c in clips)]
    lines = [f"## {meta['date']} ({meta.get('label') or 'run'})", "",
             (f"- machine: {meta['machine']}; load average {meta.get('load_before', '?')} before, "
              f"{meta.get('load_after', '?')} after"),
             f"- product: {meta['product']} at commit `{meta['commit']}`",
             f"- command: `{meta['command']}`",
             f"- manifest: `{meta['manifest']}`; labels: `{meta['labels']}`; events: `{meta['events']}`",
             *([f"- zones: `{meta['zones']}`, drawn through the API after each listed clip's analysis and its "
                "events re-derived on them (`PUT /v1/videos/{id}/zones`, `POST /v1/videos/{id}/rules`)"]
               if meta.get("zones") else []),
             f"- clips analysed: {len(records)}"
             + (f" (scored {meta['scored_at']} from the cached events)" if meta.get("scored_at") else ""),
             "- **development data, not a held-out test**", "",
             ("| kind | event types | clips (+/-) | detections | P | R (clips hit) | F1 | windows hit "
              "| false alarms / negative clip | wall s / video s | job s / video s |"),
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in scores:
        sp = speed([c for c in clips if c.kind == s["kind"]], records)
        lines.append(
            f"| {s['kind']} | {', '.join(s['types'])} | {s['clips']} ({s['positives']}/{s['negatives']}) "
            f"| {s['detections']} ({s['inside']} inside) | {_f(s['precision'])} "
            f"| {_f(s['recall'])} ({s['clips_hit']}/{s['positives']}) | {_f(s['f1'])} "
            f"| {_f(s['windows_hit_share'])} ({s['windows_hit']}/{s['windows']}) "
            f"| {_f(s['false_alarms_per_negative'])} ({s['detections_negative']}/{s['negatives']}) "
            f"| {_f(sp['wall_per_video_s'])} | {_f(sp['job_per_video_s'])} |")
    total = speed(clips, records)
    others = [c for c in clips if c.kind not in KINDS and c.path in records]
    if others:
        sp = speed(others, records)
        lines.append(f"| other (negatives only) | | {len(others)} (0/{len(others)}) | see the next lines | | | | | "
                     f"| {_f(sp['wall_per_video_s'])} | {_f(sp['job_per_video_s'])} |")
    lines += [(f"| **all** | | {len(records)} | | | | | | | **{_f(total['wall_per_video_s'])}** "
               f"| {_f(total['job_per_video_s'])} |"), "",
              (f"Speed: {total['clips']} clips, {total['video_s']:.0f} s of video in {total['wall_s']:.0f} s wall "
               f"({total['job_s']:.0f} s inside jobs); median wall per clip "
               f"{_median([records[c.path]['wall_s'] for c in clips if c.path in records]):.1f} s.")]
    sl = next((s for s in scores if s["kind"] == "shoplifting"), None)
    if sl and sl["by_moment"]:
        parts = ", ".join(f"{k} {h}/{n}" for k, (h, n) in sorted(sl["by_moment"].items()))
        pc = [sl["by_moment"].get(k, [0, 0]) for k in ("picking", "concealment")]
        met = (sum(n for _, n in pc) > 0 and all(h == n for h, n in pc)
               and sl["precision"] is not None and sl["precision"] >= 0.5)
        lines += ["", (f"Shoplifting windows hit by moment kind: {parts}. Issue 14's target (every labelled "
                       f"picking and concealment moment hit, and at least half of the theft/picking/concealment "
                       f"events inside a labelled moment): **{'met' if met else 'not met'}** "
                       f"(precision {_f(sl['precision'])}).")]
    cross = cross_kind(types, clips, records)
    if cross:
        lines += ["", "Detections of a kind's types on clips of other kinds (all negatives for it): "
                  + "; ".join(f"{r['kind']} types on {r['on']} clips {r['detections']} "
                              f"({r['per_clip']:.2f} per clip)" for r in cross) + "."]
    failed = [(c.path, records[c.path]) for c in clips
              if c.path in records and records[c.path]["status"] != "completed"]
    if failed:
        lines += ["", f"Failed or timed out ({len(failed)}): "
                  + "; ".join(f"`{p}` {r['status']}: {r.get('error') or 'no error text'}" for p, r in failed) + "."]
    lines += ["", "Store clips (category/), per clip: windows (labelled moments) and the events the API returned:", "",
              "| clip | kind | +/- | s | windows hit | theft/picking/concealment events (inside) | other events |",
              "|---|---|---|---|---|---|---|"]
    shop_types = set(types.get("shoplifting", []))
    for c in clips:
        if not c.path.startswith("category/") or c.path not in records:
            continue
        evs = records[c.path]["events"]
        relevant = types.get(c.kind, []) if c.kind in KINDS else sorted(shop_types)
        dets = [e for e in evs if e["type"] in relevant]
        inside = sum(1 for e in dets if any(_overlaps(e, w) for w in c.windows))
        hit = sum(1 for w in c.windows if any(_overlaps(e, w) for e in dets))
        counts: dict[str, int] = {}
        for e in evs:
            if e["type"] not in relevant:
                counts[e["type"]] = counts.get(e["type"], 0) + 1
        kinds_of = ", ".join(f"{t} {sum(1 for e in dets if e['type'] == t)}" for t in relevant
                             if any(e["type"] == t for e in dets)) or "none"
        drawn = records[c.path].get("zones")
        lines.append(f"| {c.path}{' (zones: ' + ', '.join(drawn) + ')' if drawn else ''} | {c.kind} "
                     f"| {'+' if c.positive else '-'} | {c.duration_s:.0f} "
                     f"| {hit}/{len(c.windows)}{' (whole clip)' if c.whole_clip else ''} "
                     f"| {kinds_of} ({inside} inside) "
                     f"| {', '.join(f'{t} {n}' for t, n in sorted(counts.items())) or 'none'} |")
    return "\n".join(lines) + "\n"


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def write_results(path: Path, section: str) -> None:
    """The title and definitions, then the new section, then every earlier section (newest first)."""
    earlier = ""
    if path.is_file():
        text = path.read_text()
        at = text.find("\n## ")
        earlier = text[at + 1:] if at >= 0 else ""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{RESULTS_TITLE}\n\n{DEFINITIONS}\n{section}" + (f"\n{earlier}" if earlier else ""))


# ==== the run ===================================================================================

def _git(*args: str, cwd: Path) -> str:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def describe_commit(product: Path) -> str:
    commit = _git("rev-parse", "--short", "HEAD", cwd=product) or "unknown"
    if _git("status", "--porcelain", "--untracked-files=no", cwd=product):
        commit += " + uncommitted changes"
    return commit


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str) + "\n")
    tmp.replace(path)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def run(args, clips: list[Clip], meta: dict) -> dict[str, dict]:
    records: dict[str, dict] = {}
    if args.resume and args.events_out.is_file():
        cached = json.loads(args.events_out.read_text())
        records = {r["path"]: r for r in cached.get("clips", []) if r.get("status") == "completed"}
    todo = [c for c in clips if c.path not in records]
    width = len(str(len(clips)))

    def save() -> None:
        _write_json(args.events_out, {"meta": meta, "clips": [
            {"path": c.path, "kind": c.kind, "positive": c.positive, "duration_s": round(c.duration_s, 3),
             **records[c.path]} for c in clips if c.path in records]})

    zones = load_zones(args.zones) if args.zones else {}
    with Services(args.product, keep_data=args.keep_data) as services:
        client = ApiClient(services)
        done = len(clips) - len(todo)
        for clip in todo:
            done += 1
            record = client.run_clip(clip, zones=zones.get(clip.path))
            records[clip.path] = record
            save()
            counts: dict[str, int] = {}
            for e in record["events"]:
                counts[e["type"]] = counts.get(e["type"], 0) + 1
            print(f"[{done:>{width}}/{len(clips)}] {clip.path} ({clip.kind}{'+' if clip.positive else '-'}, "
                  f"{clip.duration_s:.1f} s): {record['status']}, {record['wall_s']:.1f} s wall, "
                  + (", ".join(f"{t} {n}" for t, n in sorted(counts.items())) or "no events"),
                  file=sys.stderr, flush=True)
        client.http.close()
    return records


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="bench_behaviour.py",
        description="Score Sentinel's behaviour events (collapse, violent, theft/picking/concealment) on the "
                    "labelled development clips, through the HTTP API (sentinel api + sentinel worker).",
        epilog="Development data, not a held-out test. Results are prepended to bench/results/behaviour.md.")
    p.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST,
                   help=f"behaviour manifest.json (default: {_display(DEFAULT_MANIFEST)})")
    p.add_argument("--kind", choices=[*KINDS, "other"], help="only the clips of this kind")
    p.add_argument("--limit", type=int, metavar="N", help="at most N clips of each kind (manifest order)")
    p.add_argument("--labels", type=Path, default=DEFAULT_LABELS,
                   help=f"timed moments for the category-only store clips (default: {_display(DEFAULT_LABELS)})")
    p.add_argument("--no-labels", action="store_true", help="score the manifest's own windows only")
    p.add_argument("--events-out", type=Path, default=DEFAULT_EVENTS,
                   help=f"where the raw per-clip events are cached (default: {_display(DEFAULT_EVENTS)})")
    p.add_argument("--score-only", type=Path, metavar="FILE",
                   help="rescore cached events (an --events-out file) with the current labels; analyse nothing")
    p.add_argument("--resume", action="store_true",
                   help="keep the completed clips already in --events-out and analyse only the rest")
    p.add_argument("--results", type=Path, default=DEFAULT_RESULTS,
                   help=f"markdown file the dated section is prepended to (default: {_display(DEFAULT_RESULTS)})")
    p.add_argument("--no-results", action="store_true", help="print the section instead of writing --results")
    p.add_argument("--label", default=None, help="a name for this run in the results heading, e.g. baseline")
    p.add_argument("--product", type=Path, default=ROOT,
                   help="source tree whose cli.py is run as `sentinel` (default: this checkout)")
    p.add_argument("--zones", type=Path, metavar="FILE",
                   help="draw these zones on their clips after the analysis and re-derive the events "
                        "(e.g. bench/labels/zones.json); clips not in it keep no zones")
    p.add_argument("--keep-data", action="store_true", help="keep the temporary data folder (database, logs)")
    args = p.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        p.error("--limit must be at least 1")
    args.product = args.product.resolve()

    try:
        clips, types = load_manifest(args.manifest)
        if not args.no_labels:
            labels = load_labels(args.labels)
            unknown = sorted(set(labels) - {c.path for c in clips})
            if unknown:
                raise BenchError(f"{args.labels} labels clips the manifest does not list: {', '.join(unknown)}.")
            apply_labels(clips, labels)
        else:
            apply_labels(clips, {})
        clips = select(clips, args.kind, args.limit)
        if not clips:
            raise BenchError("No clips selected (check --kind and --limit).")
        command = shlex.join(["python", _display(Path(sys.argv[0])), *(argv if argv is not None else sys.argv[1:])])
        if args.score_only:
            if not args.score_only.is_file():
                raise BenchError(f"No cached events at {args.score_only}.")
            try:
                cached = json.loads(args.score_only.read_text())
                records = {r["path"]: r for r in cached["clips"]}
                meta = dict(cached["meta"])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise BenchError(f"{args.score_only} is not an events cache of this bench: {exc}.") from None
            clips = [c for c in clips if c.path in records]
            if not clips:
                raise BenchError(f"{args.score_only} has none of the selected clips.")
            meta.update(scored_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                        command=f"{meta.get('command')}; rescored: {command}",
                        labels="none" if args.no_labels else _display(args.labels),
                        events=_display(args.score_only), label=args.label or meta.get("label"))
        else:
            if not args.product.joinpath("cli.py").is_file():
                raise BenchError(f"{args.product} has no cli.py (pass --product PATH to a Sentinel checkout).")
            meta = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "label": args.label,
                    "machine": f"{os.cpu_count()}-core CPU, no GPU ({platform.machine()}, "
                               f"{platform.python_implementation()} {platform.python_version()})",
                    "product": _display(args.product), "commit": describe_commit(args.product),
                    "command": command, "manifest": str(args.manifest), "events": _display(args.events_out),
                    "labels": "none" if args.no_labels else _display(args.labels), "load_before": _load(),
                    "zones": _display(args.zones) if args.zones else None,
                    "settings": {k: v for k, v in os.environ.items() if k.startswith("SENTINEL_")
                                 and "TOKEN" not in k and "PASSWORD" not in k}}
            try:
                records = run(args, clips, meta)
            except KeyboardInterrupt:
                print(f"bench_behaviour: interrupted; the finished clips are cached in {args.events_out} "
                      "(continue with --resume)", file=sys.stderr)
                return 130
            meta["load_after"] = _load()
            _write_json(args.events_out, {**json.loads(args.events_out.read_text()), "meta": meta})
        section = render_section(meta, clips, types, records)
    except BenchError as exc:
        print(f"bench_behaviour: {exc}", file=sys.stderr)
        return 2
    if args.no_results:
        print(section)
    else:
        write_results(args.results, section)
        print(f"bench_behaviour: wrote {_display(args.results)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    # SIGTERM (kill, timeout) takes the same clean path as Ctrl-C: the services are stopped in `finally`
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background (SIGINT ignored)
    sys.exit(main())

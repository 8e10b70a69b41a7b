"""The HTTP API: every route, its auth failures, the upload size limit (counted while streaming) and errors."""

from __future__ import annotations

import io
import time
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api import InsecureBind, check_bind, create_app
from db.repos import jobs, videos
from tests.conftest import AUTH, TOKEN, add_analysed_video, free_port, run_cli, write_clip


# every route but /health: (method, path, JSON body)
PROTECTED = [
    ("POST", "/v1/videos", {"s3_uri": "s3://bucket/video.mp4"}),
    ("GET", "/v1/videos", None),
    ("GET", "/v1/videos/{id}", None),
    ("GET", "/v1/videos/{id}/events", None),
    ("POST", "/v1/ask", {"question": "any theft?"}),
    ("GET", "/v1/videos/{id}/summary", None),
    ("POST", "/v1/videos/{id}/summary", None),
    ("DELETE", "/v1/videos/{id}", None),
    ("GET", "/v1/alerts", None),
    ("POST", "/v1/alerts/send", None),
]


# ---- fixtures -----------------------------------------------------------------------------------

@pytest.fixture()
def client(api_app):
    with TestClient(create_app(api_app, token=TOKEN), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture()
def clip(tmp_path) -> Path:
    return write_clip(tmp_path / "aisle 3 (cam).mp4", seconds=2)


def upload(client, path: Path, *, headers=AUTH, name: str | None = None):
    with open(path, "rb") as f:
        return client.post("/v1/videos", headers=headers, files={"file": (name or path.name, f, "video/mp4")})


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The error shape: {"error": {"code", "message"}}, one sentence, no traceback."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    if code:
        assert body["error"]["code"] == code, body
    message = body["error"]["message"]
    assert message.endswith(".") and "\n" not in message and "Traceback" not in response.text
    return body["error"]


def counts(app) -> tuple[int, int]:
    with app.db.connection() as conn:
        return (conn.execute("SELECT count(*) AS n FROM videos").fetchone()["n"],
                conn.execute("SELECT count(*) AS n FROM analysis_jobs").fetchone()["n"])


# ---- auth ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("method,path,body", PROTECTED)
@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer wrong-token"},
    {"Authorization": f"Bearer {TOKEN}x"},
    {"Authorization": f"Basic {TOKEN}"},
    {"Authorization": TOKEN},
], ids=["missing", "wrong", "longer", "basic-scheme", "no-scheme"])
def test_every_route_but_health_needs_the_token(client, api_app, method, path, body, headers):
    url = path.format(id=uuid.uuid4())
    response = client.request(method, url, headers=headers, json=body)
    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    assert counts(api_app) == (0, 0)


def test_the_right_token_is_accepted_on_every_route(client, api_app):
    video = add_analysed_video(api_app)
    for method, path, _ in PROTECTED:
        if method == "POST":
            continue  # bodies with effects are covered by their own tests
        response = client.request(method, path.format(id=video["id"]), headers=AUTH)
        assert response.status_code in (200, 404), (path, response.text)
        assert response.status_code != 401


def test_health_is_open_but_details_need_the_token(client):
    anonymous = client.get("/health")
    assert anonymous.status_code == 200, anonymous.text
    body = anonymous.json()
    names = {c["component"] for c in body["components"]}
    assert {"database", "object store", "runner"} <= names
    assert all(c["detail"] is None for c in body["components"])  # hosts and paths stay private

    authed = client.get("/health", headers=AUTH).json()
    database = next(c for c in authed["components"] if c["component"] == "database")
    assert database["ok"] and "pgvector" in database["detail"]
    assert authed["ok"] == all(c["ok"] for c in authed["components"])


def test_without_a_token_the_api_is_open_and_may_only_bind_locally(api_app):
    with TestClient(create_app(api_app, token=None)) as c:
        assert c.get("/v1/videos").status_code == 200
    check_bind("127.0.0.1", None)
    check_bind("::1", "")
    check_bind("0.0.0.0", TOKEN)
    with pytest.raises(InsecureBind, match="SENTINEL_API_TOKEN"):
        check_bind("0.0.0.0", None)
    with pytest.raises(InsecureBind):
        check_bind("192.168.1.20", "")


def test_token_comes_from_settings_by_default(api_app):
    from pydantic import SecretStr

    api_app.settings.api_token = SecretStr("from-settings")
    with TestClient(create_app(api_app)) as c:
        assert c.get("/v1/videos").status_code == 401
        assert c.get("/v1/videos", headers={"Authorization": "Bearer from-settings"}).status_code == 200


# ---- uploads ------------------------------------------------------------------------------------

def test_upload_streams_to_the_store_and_queues_one_job(client, api_app, clip):
    response = upload(client, clip)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["duplicate"] is False and body["status"] == "pending"
    video_id, job_id = body["video_id"], body["job_id"]
    with api_app.db.connection() as conn:
        row = videos.get(conn, video_id)
        job = jobs.get(conn, job_id)
    assert row["original_filename"] == "aisle 3 (cam).mp4" and row["size_bytes"] == clip.stat().st_size
    assert api_app.store.get_bytes(row["storage_key"]) == clip.read_bytes()
    assert job["status"] == "queued" and str(job["video_id"]) == video_id

    detail = client.get(f"/v1/videos/{video_id}", headers=AUTH).json()
    assert detail["status"] == "pending" and detail["progress"] == 0
    assert detail["job"]["id"] == job_id and detail["job"]["status"] == "queued"
    assert detail["duration_s"] == pytest.approx(2.0, abs=0.2) and (detail["width"], detail["height"]) == (320, 240)
    # the folder store's objects come through this API's signed /media/ links, never as server paths
    assert detail["thumbnail_url"].startswith("http://testserver/media/")
    assert client.get(detail["thumbnail_url"]).content[:2] == b"\xff\xd8"
    assert client.get(detail["video_url"]).content == clip.read_bytes()
    assert "storage_key" not in detail and "sha256" not in detail

    again = upload(client, clip, name="copy.mp4").json()
    assert again == {**body, "duplicate": True}
    assert counts(api_app) == (1, 1)


def test_upload_keeps_a_safe_name_from_a_hostile_file_name(client, api_app, clip):
    response = upload(client, clip, name="../../etc/ünïcode name.mp4")
    assert response.status_code == 202, response.text
    with api_app.db.connection() as conn:
        row = videos.get(conn, response.json()["video_id"])
    assert row["name"] == "../../etc/ünïcode name.mp4"  # shown as written; only the storage key is made safe
    assert row["storage_key"].startswith("videos/") and ".." not in row["storage_key"]


def test_upload_of_a_non_video_is_422_and_stores_nothing(client, api_app):
    response = client.post("/v1/videos", headers=AUTH,
                           files={"file": ("report.mp4", io.BytesIO(b"%PDF-1.4 hello " * 300), "video/mp4")})
    assert_error(response, 422, "invalid_video")
    assert counts(api_app) == (0, 0)
    assert not list((api_app.settings.data_dir / "tmp").glob("ingest-*"))


def test_empty_upload_is_422(client, api_app):
    response = client.post("/v1/videos", headers=AUTH, files={"file": ("empty.mp4", b"", "video/mp4")})
    assert "empty" in assert_error(response, 422, "invalid_video")["message"]


def test_upload_without_the_file_field_is_422(client, api_app):
    response = client.post("/v1/videos", headers=AUTH, data={"name": "cam"},
                           files={"video": ("a.mp4", b"xyz", "video/mp4")})
    assert "'file'" in assert_error(response, 422, "invalid_request")["message"]


def test_upload_with_other_fields_first_still_finds_the_file(client, clip):
    with open(clip, "rb") as f:
        response = client.post("/v1/videos", headers=AUTH, data={"camera": "entrance", "note": "x" * 5000},
                               files={"file": ("clip.mp4", f, "video/mp4")})
    assert response.status_code == 202, response.text


def test_truncated_multipart_body_is_400(client, api_app, clip):
    data = clip.read_bytes()
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"clip.mp4\"\r\n"
            b"Content-Type: video/mp4\r\n\r\n" + data[: len(data) // 2])  # no closing boundary
    response = client.post("/v1/videos", headers={**AUTH, "Content-Type": "multipart/form-data; boundary=XyZ"},
                           content=body)
    assert_error(response, 400, "bad_request")
    assert counts(api_app) == (0, 0)


@pytest.mark.parametrize("content_type,code,status", [
    ("text/plain", "unsupported_media_type", 415),
    ("application/octet-stream", "unsupported_media_type", 415),
    ("multipart/form-data", "bad_request", 400),  # no boundary
])
def test_upload_with_a_wrong_content_type(client, content_type, code, status):
    response = client.post("/v1/videos", headers={**AUTH, "Content-Type": content_type}, content=b"abc")
    assert_error(response, status, code)


def test_import_from_s3_uri(client, api_app, s3_bucket, clip, monkeypatch):
    import boto3

    endpoint, bucket = s3_bucket
    monkeypatch.setattr(api_app.settings, "s3_endpoint_url", endpoint)
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").put_object(
        Bucket=bucket, Key="cams/store 12/clip.mp4", Body=clip.read_bytes())

    response = client.post("/v1/videos", headers=AUTH, json={"s3_uri": f"s3://{bucket}/cams/store 12/clip.mp4"})
    assert response.status_code == 202, response.text
    with api_app.db.connection() as conn:
        row = videos.get(conn, response.json()["video_id"])
    assert row["source"] == "s3" and row["name"] == "clip.mp4"

    missing = client.post("/v1/videos", headers=AUTH, json={"s3_uri": f"s3://{bucket}/cams/nope.mp4"})
    assert "Cannot read" in assert_error(missing, 422, "invalid_video")["message"]


@pytest.mark.parametrize("payload", [
    {"s3_uri": "https://bucket/key.mp4"},
    {"s3_uri": "s3://bucket"},
    {"s3_uri": "s3://Bad_Bucket!/key.mp4"},
    {"s3": "s3://bucket/key.mp4"},
    {"s3_uri": "s3://bucket/key.mp4", "extra": 1},
    [],
])
def test_invalid_s3_import_body_is_422(client, api_app, payload):
    assert_error(client.post("/v1/videos", headers=AUTH, json=payload), 422, "invalid_request")
    assert counts(api_app) == (0, 0)


def test_malformed_json_is_422(client):
    response = client.post("/v1/videos", headers={**AUTH, "Content-Type": "application/json"}, content=b"{nope")
    assert_error(response, 422, "invalid_request")


# ---- the size limit -----------------------------------------------------------------------------

def _multipart_head(boundary: str = "LiMiT") -> bytes:
    return (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.mp4\"\r\n"
            "Content-Type: video/mp4\r\n\r\n").encode()


def test_upload_over_the_limit_is_413_and_stores_nothing(client, api_app, monkeypatch):
    monkeypatch.setattr(api_app.settings, "max_upload_mb", 1)
    big = io.BytesIO(b"\x00" * (1024 * 1024 + 10))
    response = client.post("/v1/videos", headers=AUTH, files={"file": ("big.mp4", big, "video/mp4")})
    assert "1 MB" in assert_error(response, 413, "upload_too_large")["message"]
    assert counts(api_app) == (0, 0)
    assert not list((api_app.settings.data_dir / "tmp").glob("ingest-*"))


def test_declared_content_length_over_the_limit_is_refused_before_reading(client, api_app, monkeypatch):
    monkeypatch.setattr(api_app.settings, "max_upload_mb", 1)
    body = _multipart_head() + b"\x00" * 100 + b"\r\n--LiMiT--\r\n"
    response = client.post("/v1/videos", content=body, headers={
        **AUTH, "Content-Type": "multipart/form-data; boundary=LiMiT", "Content-Length": str(50 * 1024 * 1024)})
    assert_error(response, 413, "upload_too_large")


class BodyCounter:
    """ASGI wrapper: how many body bytes the app had pulled when it started its response."""

    def __init__(self, app) -> None:
        self.app, self.read, self.read_at_response = app, 0, None

    async def __call__(self, scope, receive, send):
        async def counting_receive():
            message = await receive()
            self.read += len(message.get("body", b""))
            return message

        async def noting_send(message):
            if message["type"] == "http.response.start":
                self.read_at_response = self.read
            await send(message)

        await self.app(scope, counting_receive, noting_send)


def test_streamed_upload_is_cut_off_at_the_limit_not_after_the_whole_body(serve, api_app, monkeypatch):
    """A chunked 64 MB body (no Content-Length) against a 1 MB limit: 413 after about 1 MB was read."""
    monkeypatch.setattr(api_app.settings, "max_upload_mb", 1)
    counter = BodyCounter(create_app(api_app, token=TOKEN))
    url = serve(counter)
    chunk = b"\x00" * (64 * 1024)

    def body():
        yield _multipart_head()
        for _ in range(1024):  # 64 MB in all
            yield chunk
        yield b"\r\n--LiMiT--\r\n"

    response = httpx.post(f"{url}/v1/videos", content=body(), timeout=60,
                          headers={**AUTH, "Content-Type": "multipart/form-data; boundary=LiMiT"})
    assert_error(response, 413, "upload_too_large")
    # the limit plus the multipart allowance, give or take a chunk: never the whole body
    assert counter.read_at_response is not None and counter.read_at_response < 3 * 1024 * 1024, counter.read_at_response
    assert counts(api_app) == (0, 0)
    assert not list((api_app.settings.data_dir / "tmp").glob("ingest-*"))


def test_live_upload_streams_a_real_file(serve, api_app, clip):
    url = serve(create_app(api_app, token=TOKEN))
    with open(clip, "rb") as f:
        response = httpx.post(f"{url}/v1/videos", headers=AUTH, files={"file": ("clip.mp4", f, "video/mp4")},
                              timeout=60)
    assert response.status_code == 202, response.text
    assert counts(api_app) == (1, 1)


# ---- videos -------------------------------------------------------------------------------------

def test_list_videos_paginates_and_filters(client, api_app):
    made = [add_analysed_video(api_app, name=f"cam{i}.mp4") for i in range(3)]
    with api_app.db.connection() as conn:
        videos.update(conn, made[0]["id"], status="failed", error="Decoder crashed.")

    first = client.get("/v1/videos", headers=AUTH, params={"limit": 2}).json()
    assert [v["name"] for v in first["items"]] == ["cam2.mp4", "cam1.mp4"]  # newest first
    assert first["next_offset"] == 2 and first["items"][0]["event_count"] == 3
    assert first["items"][0]["thumbnail_url"].startswith("http://testserver/media/")
    rest = client.get("/v1/videos", headers=AUTH, params={"limit": 2, "offset": 2}).json()
    assert [v["name"] for v in rest["items"]] == ["cam0.mp4"] and rest["next_offset"] is None

    failed = client.get("/v1/videos", headers=AUTH, params={"status": "failed"}).json()["items"]
    assert [(v["name"], v["error"]) for v in failed] == [("cam0.mp4", "Decoder crashed.")]
    assert [v["name"] for v in client.get("/v1/videos", headers=AUTH, params={"name": "cam1"}).json()["items"]] \
        == ["cam1.mp4"]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"offset": -1}, {"status": "done"},
                                    {"limit": "ten"}])
def test_list_videos_rejects_bad_parameters(client, params):
    assert_error(client.get("/v1/videos", headers=AUTH, params=params), 422, "invalid_request")


def test_video_detail_has_status_progress_metadata_and_counts(client, api_app):
    video = add_analysed_video(api_app)
    detail = client.get(f"/v1/videos/{video['id']}", headers=AUTH).json()
    assert detail["status"] == "completed" and detail["progress"] == 100
    assert detail["events_by_type"] == {"walking": 1, "picking": 1, "theft": 1} and detail["event_count"] == 3
    assert (detail["duration_s"], detail["fps"], detail["codec"]) == (240.0, 10.0, "mpeg4")
    assert detail["job"] is None


def test_unknown_video_is_404_and_a_malformed_id_is_422(client):
    for path in ("/v1/videos/{}", "/v1/videos/{}/events", "/v1/videos/{}/summary"):
        assert_error(client.get(path.format(uuid.uuid4()), headers=AUTH), 404, "not_found")
        assert_error(client.get(path.format("not-a-uuid"), headers=AUTH), 422, "invalid_request")
    assert_error(client.delete(f"/v1/videos/{uuid.uuid4()}", headers=AUTH), 404, "not_found")
    assert_error(client.post(f"/v1/videos/{uuid.uuid4()}/summary", headers=AUTH), 404, "not_found")


def test_delete_removes_files_rows_and_cancels_the_job(client, api_app, clip):
    video = add_analysed_video(api_app)
    response = client.delete(f"/v1/videos/{video['id']}", headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json() == {"video_id": str(video["id"]), "name": "cam1.mp4", "deleted_objects": 5,
                               "missing_objects": 0, "events": 3}
    assert api_app.store.keys() == []
    assert_error(client.get(f"/v1/videos/{video['id']}", headers=AUTH), 404)

    queued = upload(client, clip).json()
    assert client.delete(f"/v1/videos/{queued['video_id']}", headers=AUTH).status_code == 200
    assert counts(api_app) == (0, 0)


# ---- events -------------------------------------------------------------------------------------

def test_events_filter_and_paginate(client, api_app):
    video = add_analysed_video(api_app)
    url = f"/v1/videos/{video['id']}/events"

    every = client.get(url, headers=AUTH).json()
    assert [e["type"] for e in every["items"]] == ["walking", "picking", "theft"]
    first = every["items"][0]
    assert first["bbox"] == [10.0, 20.0, 60.0, 180.0] and first["attributes"]["clothing_colour"] == "red"
    assert first["highlight_url"].startswith("http://testserver/media/") and first["video_name"] == "cam1.mp4"

    def types(**params):
        return [e["type"] for e in client.get(url, headers=AUTH, params=params).json()["items"]]

    assert types(type=["theft", "picking"]) == ["picking", "theft"]
    assert types(t_from=180, t_to=300) == ["theft"]
    assert types(t_to=4.5) == ["walking"]
    assert types(zone="shelf") == ["picking"]
    assert types(min_confidence=0.75) == ["walking", "theft"]

    page = client.get(url, headers=AUTH, params={"limit": 2}).json()
    assert len(page["items"]) == 2 and page["next_offset"] == 2
    last = client.get(url, headers=AUTH, params={"limit": 2, "offset": 2}).json()
    assert [e["type"] for e in last["items"]] == ["theft"] and last["next_offset"] is None


@pytest.mark.parametrize("params", [{"type": "Theft!"}, {"t_from": -1}, {"t_to": "inf"}, {"min_confidence": 2},
                                    {"limit": 1000}, {"zone": "a\x00b"}])
def test_events_reject_bad_filters(client, api_app, params):
    video = add_analysed_video(api_app)
    assert_error(client.get(f"/v1/videos/{video['id']}/events", headers=AUTH, params=params), 422)


# ---- ask ----------------------------------------------------------------------------------------

def test_ask_answers_with_citations_and_presigned_thumbnails(client, api_app):
    video = add_analysed_video(api_app, embed=True)
    response = client.post("/v1/ask", headers=AUTH,
                           json={"question": "did anyone steal something?", "video_id": str(video["id"])})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answer"] and body["citations"], body
    theft = next(c for c in body["citations"] if c["type"] == "theft")
    assert theft["video_id"] == str(video["id"]) and theft["t_start"] == 190.0
    assert theft["thumbnail_url"].startswith("http://testserver/media/")
    assert theft["thumbnail_url"].endswith("_theft.jpg")
    # its wall clock, known here only by the upload time (so the card does not show it)
    assert theft["clock"] == "upload time" and len(theft["at"]) == 19 and theft["at"][10] == " "
    assert isinstance(body["filters"], dict) and body["search_method"] and isinstance(body["timings_ms"], dict)

    follow_up = client.post("/v1/ask", headers=AUTH, json={"question": "and where did he go?",
                                                           "session_id": body["session_id"]})
    assert follow_up.status_code == 200, follow_up.text
    assert follow_up.json()["session_id"] == body["session_id"]


def test_ask_rejects_unknown_ids_and_bad_questions(client):
    assert_error(client.post("/v1/ask", headers=AUTH, json={"question": "theft?", "video_id": str(uuid.uuid4())}),
                 404, "not_found")
    assert_error(client.post("/v1/ask", headers=AUTH, json={"question": "theft?", "session_id": str(uuid.uuid4())}),
                 404, "not_found")
    for body in ({"question": ""}, {"question": "   "}, {"question": "x" * 2001}, {}, {"question": "a\x00"},
                 {"question": "ok", "video_id": "cam1"}, {"question": "ok", "sql": "DROP TABLE events"}):
        assert_error(client.post("/v1/ask", headers=AUTH, json=body), 422, "invalid_request")


# ---- summaries ----------------------------------------------------------------------------------

def test_summary_is_404_until_generated_then_readable(client, api_app):
    video = add_analysed_video(api_app)
    url = f"/v1/videos/{video['id']}/summary"
    assert "POST" in assert_error(client.get(url, headers=AUTH), 404, "not_found")["message"]

    made = client.post(url, headers=AUTH)
    assert made.status_code == 200, made.text
    assert made.json()["status"] == "completed" and "theft" in made.json()["text"]
    read = client.get(url, headers=AUTH).json()
    assert read["text"] == made.json()["text"] and read["model"] == made.json()["model"]


def test_summary_in_the_background_answers_202(client, api_app):
    video = add_analysed_video(api_app)
    url = f"/v1/videos/{video['id']}/summary"
    started = client.post(url, headers=AUTH, params={"wait": "false"})
    assert started.status_code == 202, started.text
    assert started.json()["status"] in ("pending", "processing", "completed")
    deadline = time.time() + 30
    while (state := client.get(url, headers=AUTH).json())["status"] != "completed":
        assert time.time() < deadline and state["status"] != "failed", state
        time.sleep(0.1)


def test_summary_of_an_unanalysed_video_is_409(client, api_app, clip):
    video_id = upload(client, clip).json()["video_id"]
    assert_error(client.post(f"/v1/videos/{video_id}/summary", headers=AUTH), 409, "not_analysed")


# ---- errors -------------------------------------------------------------------------------------

def test_unknown_route_and_wrong_method_use_the_error_shape(client):
    assert_error(client.get("/v2/nothing", headers=AUTH), 404, "not_found")
    assert_error(client.put("/v1/videos", headers=AUTH), 405, "method_not_allowed")


def test_unexpected_errors_are_500_without_details(client, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("password=hunter2 at /srv/secret/path.py line 3")

    monkeypatch.setattr(videos, "list_videos", boom)
    response = client.get("/v1/videos", headers=AUTH)
    assert_error(response, 500, "internal_error")
    assert "hunter2" not in response.text and "secret" not in response.text


def test_openapi_documents_every_route_and_the_bearer_scheme(client):
    schema = client.get("/openapi.json").json()
    assert set(schema["paths"]) == {"/v1/videos", "/v1/videos/{video_id}", "/v1/videos/{video_id}/events",
                                    "/v1/ask", "/v1/videos/{video_id}/summary", "/health",
                                    "/v1/videos/{video_id}/zones", "/v1/videos/{video_id}/rules", "/v1/cameras",
                                    "/v1/cameras/{name}/zones", "/v1/videos/{video_id}/camera",
                                    "/v1/videos/{video_id}/counts", "/v1/videos/{video_id}/recorded-at",
                                    "/v1/alerts", "/v1/alerts/send"}
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    upload_body = schema["paths"]["/v1/videos"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "application/json"} <= set(upload_body)
    assert "security" not in schema["paths"]["/health"]["get"]
    assert client.get("/docs").status_code == 200


# ---- `sentinel api` and modal_app ---------------------------------------------------------------

def test_cli_refuses_a_public_bind_without_a_token():
    result = run_cli("api", "--host", "0.0.0.0", timeout=120)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "SENTINEL_API_TOKEN" in lines[0] and "Traceback" not in result.stderr


def test_cli_serves_the_api_locally(database):
    import os
    import subprocess

    from tests.conftest import ROOT

    port = free_port()
    exe = ROOT / ".venv" / "bin" / "sentinel"
    proc = subprocess.Popen([str(exe) if exe.exists() else "sentinel", "api", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "SENTINEL_API_TOKEN": TOKEN})
    try:
        deadline = time.time() + 120
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.time() < deadline, "sentinel api did not start"
                time.sleep(0.3)
        assert health.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/v1/videos", timeout=5).status_code == 401
        assert httpx.get(f"http://127.0.0.1:{port}/v1/videos", headers=AUTH, timeout=5).status_code == 200
    finally:
        proc.terminate()
        proc.wait(15)


def test_modal_app_imports_without_a_token_and_its_web_endpoint_answers_health(app, monkeypatch):
    import importlib

    from pydantic import SecretStr

    monkeypatch.delenv("SENTINEL_API_TOKEN", raising=False)
    monkeypatch.delenv("MODAL_TOKEN_ID", raising=False)
    monkeypatch.delenv("MODAL_TOKEN_SECRET", raising=False)
    modal_app = importlib.import_module("modal_app")
    # the web function refuses to serve a public URL without a token
    with pytest.raises(InsecureBind):
        modal_app.web.local()

    monkeypatch.setattr(app.settings, "api_token", SecretStr(TOKEN))
    web = modal_app.web.local()  # runs the function body here: the FastAPI app
    with TestClient(web) as c:
        assert c.get("/health").status_code == 200
        assert c.get("/v1/videos").status_code == 401
        assert c.get("/v1/videos", headers=AUTH).status_code == 200

"""Schemathesis against the API's own OpenAPI schema: no 5xx, and every response matches the schema.

The schema is loaded at import from an app over the process-wide App (`create_app(None)`), whose
database is only touched when a request arrives, after the fixtures below have seeded it.
(`schemathesis.pytest.from_fixture` would be the lazy way, but its node-id handling breaks on pytest 9.2.)
"""

from __future__ import annotations

import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api import create_app
from tests.conftest import TOKEN, add_analysed_video

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection]
MAX_EXAMPLES = 10  # per operation and phase: the whole run stays well under a minute

# the token through schemathesis' auth config, so it knows which requests are meant to be authorised
CONFIG = SchemathesisConfig.from_dict({"auth": {"openapi": {"HTTPBearer": {"bearer": TOKEN}}}})
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(None, token=TOKEN), config=CONFIG)


@pytest.fixture(scope="module", autouse=True)
def seeded(app, moto_s3):
    """One analysed video in an empty database, so reads can succeed; s3:// imports go to moto.

    Generated s3:// URIs then fail fast with 422 (no such bucket) instead of reaching AWS.
    """
    with app.db.connection() as conn:
        conn.execute("TRUNCATE videos, analysis_jobs, tracks, events, frame_stats, zones, summaries, "
                     "chat_sessions, chat_turns RESTART IDENTITY CASCADE")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(app.settings, "s3_endpoint_url", moto_s3)
        yield add_analysed_video(app, embed=True)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_api_conforms_to_its_schema(case, seeded):
    video_id = (case.path_parameters or {}).get("video_id")
    if case.method != "DELETE" and _is_uuid(video_id):
        # a random id only ever finds 404; the seeded video lets reads answer 200 and be checked too
        case.path_parameters["video_id"] = str(seeded["id"])
    case.call_and_validate(checks=CHECKS)


def test_every_json_body_documents_the_400_a_body_that_is_not_json_gets():
    from fastapi.testclient import TestClient

    spec = create_app(None, token=TOKEN).openapi()
    with_json = [(method.upper(), path) for path, operations in spec["paths"].items()
                 for method, op in operations.items()
                 if "application/json" in (op.get("requestBody") or {}).get("content", {})]
    assert ("PUT", "/v1/videos/{video_id}/camera") in with_json and len(with_json) >= 5
    assert [(m, p) for m, p in with_json if "400" not in spec["paths"][p][m.lower()]["responses"]] == []
    with TestClient(create_app(None, token=TOKEN)) as client:
        bad = client.put(f"/v1/videos/{uuid.uuid4()}/camera", content=b"D\xff\xfe\xfd",
                         headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
        return True
    except ValueError:
        return False

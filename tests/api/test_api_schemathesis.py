"""Property-based requests generated from the OpenAPI document: never a server error."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from service_support import Running

# The event stream never ends by design; it is tested elsewhere.
SKIP = {"/api/v1/live/stream"}


def test_no_server_errors(running: Running) -> None:
    schema = schemathesis.openapi.from_url(running.url + "/api/v1/openapi.json")
    headers = {"Authorization": f"Bearer {running.keys['admin']}"}
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in SKIP:
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers=headers, timeout=30)
            where = f"{case.method} {case.formatted_path}"
            assert response.status_code < 500, f"{where} -> {response.status_code}: {response.text[:300]}"
            if response.status_code >= 400:
                body = response.json()
                assert body["error"] and body["message"], where

        check()
        checked.append(f"{operation.method.upper()} {operation.path}")
    assert "POST /api/v1/events" in checked and len(checked) >= 8

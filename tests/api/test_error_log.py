"""An unexpected error is logged by its route, never by a path that holds a customer's id."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cartwise.api.errors import install


def test_a_500_is_logged_with_the_route_template_not_the_customer_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = FastAPI()
    install(app)

    @app.get("/api/v1/customers/{user_id}")
    def broken(user_id: str) -> dict[str, str]:
        raise RuntimeError("a bug")

    with caplog.at_level(logging.ERROR, logger="cartwise.api"):
        response = TestClient(app, raise_server_exceptions=False).get("/api/v1/customers/ada@example.com")
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "GET /api/v1/customers/{user_id}" in logged
    assert "ada@example.com" not in caplog.text

"""The token, read-only mode, CSRF checks and the binding rule."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.dashboard.conftest import BASE_URL
from tunelab.dashboard import create_app
from tunelab.dashboard.security import CSRF_HEADER, TOKEN_COOKIE, check_bind
from tunelab.exceptions import ConfigError

TOKEN = "s3cret-token"
WRITE = {CSRF_HEADER: "1"}


def test_with_a_token_every_request_needs_it(storage_url: str) -> None:
    client = TestClient(create_app(storage_url, token=TOKEN), base_url=BASE_URL)
    for path in ("/", "/api/studies", "/static/dashboard.js", "/api/studies/hostile/events"):
        assert client.get(path).status_code == 401, path
    assert client.get("/api/studies", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/api/studies", cookies={TOKEN_COOKIE: "wrong"}).status_code == 403
    ok = client.get("/api/studies", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200


def test_the_token_in_the_address_moves_into_a_cookie(storage_url: str) -> None:
    client = TestClient(create_app(storage_url, token=TOKEN), base_url=BASE_URL)
    first = client.get(f"/studies/hostile?token={TOKEN}&x=1", follow_redirects=False)

    assert first.status_code == 303 and first.headers["location"] == "/studies/hostile?x=1"
    assert (
        "HttpOnly" in first.headers["set-cookie"]
        and "SameSite=Strict" in first.headers["set-cookie"]
    )
    assert client.get("/api/studies").status_code == 200  # the cookie now carries it


def test_without_a_token_only_loopback_names_are_served(storage_url: str) -> None:
    client = TestClient(create_app(storage_url), base_url="http://attacker.example")
    assert client.get("/api/studies").status_code == 403
    local = TestClient(create_app(storage_url), base_url="http://localhost:8080")
    assert local.get("/api/studies").status_code == 200


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({}, CSRF_HEADER),
        ({**WRITE, "Origin": "http://evil.example"}, "another site"),
        ({**WRITE, "Sec-Fetch-Site": "cross-site"}, "another site"),
    ],
)
def test_a_write_without_the_header_or_from_another_site_is_refused(
    client: TestClient, headers: dict[str, str], why: str
) -> None:
    answer = client.post("/api/studies/hostile/stop", json={}, headers=headers)
    assert answer.status_code == 403 and why in answer.json()["error"]


def test_a_write_must_be_json(client: TestClient) -> None:
    answer = client.post(
        "/api/studies/hostile/stop",
        content="x=1",
        headers={**WRITE, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 403 and "JSON" in answer.json()["error"]


def test_read_only_refuses_every_write(storage_url: str) -> None:
    client = TestClient(create_app(storage_url, read_only=True), base_url=BASE_URL)
    assert client.get("/api/config").json()["read_only"] is True
    for path, body in [
        ("/stop", {}),
        ("/enqueue", {"params": {"x": 1}}),
        ("/notes", {"text": "n"}),
        ("/trials/0/prune", {}),
    ]:
        answer = client.post(f"/api/studies/hostile{path}", json=body, headers=WRITE)
        assert answer.status_code == 403 and "read-only" in answer.json()["error"], path


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.org"])
def test_serving_beyond_this_machine_needs_a_token(host: str) -> None:
    with pytest.raises(ConfigError, match="--token"):
        check_bind(host, None)
    check_bind(host, TOKEN)
    for local in ("127.0.0.1", "localhost", "::1"):
        check_bind(local, None)

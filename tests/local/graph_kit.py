"""Shared by the local tenant tests: request bodies and Graph error assertions."""

from __future__ import annotations

DOMAIN = "contoso.onmicrosoft.com"
PASSWORD = "xWwvJ]6NMw+bWH-d"
# Any bearer token that is not a JWT: the local tenant answers 401 without one, as Graph does.
AUTH = {"Authorization": "Bearer local"}


def new_user(alias: str, **extra) -> dict:
    """A valid POST /users body."""
    body = {
        "accountEnabled": True,
        "displayName": extra.pop("displayName", alias.title()),
        "mailNickname": alias,
        "userPrincipalName": f"{alias}@{DOMAIN}",
        "passwordProfile": {"forceChangePasswordNextSignIn": True, "password": PASSWORD},
    }
    body.update(extra)
    return body


def create(client, alias: str, **extra) -> dict:
    """Create a user and return the 201 body."""
    resp = client.post("/v1.0/users", json=new_user(alias, **extra))
    assert resp.status_code == 201, resp.text
    return resp.json()


def assert_error(resp, status: int, code: str, message: str | None = None) -> dict:
    """Assert Graph's error envelope and return its `error` object."""
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["code"] == code
    if message is not None:
        assert err["message"] == message
    inner = err["innerError"]
    assert inner["request-id"] == resp.headers["request-id"]
    assert set(inner) == {"date", "request-id", "client-request-id"}
    return err

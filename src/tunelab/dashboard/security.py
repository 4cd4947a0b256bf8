"""Who may read the dashboard and who may write through it.

- Bound to this machine (127.0.0.1, the default) it needs no token, but answers only requests
  addressed to a loopback name, so that a web page elsewhere cannot reach it through a DNS
  name that points here (DNS rebinding).
- Bound to any other address it needs a token, and then every request (pages, API, live feed,
  assets) carries it: as ``Authorization: Bearer TOKEN``, in the cookie the first page load
  sets, or, on that first load, as ``?token=TOKEN``, which is moved into the cookie at once
  and dropped from the address. Tokens are compared in constant time.
- Writes are POSTs of JSON with the header :data:`CSRF_HEADER`, which a form of another site
  cannot send and which a script of another site cannot add without the preflight this app
  never allows; an ``Origin`` or ``Sec-Fetch-Site`` other than this app's is refused too.
  ``read_only`` refuses every write (403) and the pages hide their controls.

Every answer carries a content security policy that runs only the app's own scripts, so
that even text that slipped into markup could not run.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

from tunelab.exceptions import ConfigError

TOKEN_ENV = "TUNELAB_DASHBOARD_TOKEN"
TOKEN_COOKIE = "tunelab_dashboard_token"
CSRF_HEADER = "x-tunelab-request"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# plotly.js styles its elements inline and compiles WebGL shaders (parallel coordinates) with
# new Function; scripts still come from this app only, so no inline script or handler runs.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) means this machine only."""
    if host.strip("[]") in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve beyond this machine without a token."""
    if not is_loopback(host) and not token:
        raise ConfigError(
            f"option --host: serving the dashboard on {host!r} lets other machines reach it, "
            f"which needs a token: give --token SECRET (or set {TOKEN_ENV}), and open the "
            "dashboard at http://HOST:PORT/?token=SECRET; or keep the default --host 127.0.0.1.",
            field="host",
        )


class Guard:
    """ASGI middleware that enforces the rules of this module around the app."""

    def __init__(self, app: ASGIApp, token: str | None, read_only: bool) -> None:
        self._app = app
        self._token = token or None
        self._read_only = read_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        request = _Request(scope)
        refusal = self._refusal(request)
        if refusal is not None:
            await _send_error(send, *refusal)
            return
        if self._token and request.query_token is not None and request.method == "GET":
            await _send_redirect(send, request.path_without_token(), self._token)
            return
        await self._app(scope, receive, _with_headers(send))

    def _refusal(self, request: _Request) -> tuple[int, str] | None:
        if self._token is None:
            if not is_loopback(request.hostname):
                return 403, (
                    f"this dashboard serves only this machine and was reached as "
                    f"{request.hostname!r}; open it at http://127.0.0.1:PORT/."
                )
        else:
            given = request.token()
            if given is None:
                return 401, "this dashboard needs its token: open it at /?token=TOKEN."
            if not hmac.compare_digest(given.encode(), self._token.encode()):
                return 403, "the token given is not this dashboard's token."
        if request.method in WRITE_METHODS:
            return self._write_refusal(request)
        return None

    def _write_refusal(self, request: _Request) -> tuple[int, str] | None:
        if self._read_only:
            return 403, "this dashboard is read-only (--read-only): it changes nothing."
        if request.header(CSRF_HEADER) != "1":
            return (
                403,
                f"a write needs the header {CSRF_HEADER}: 1, which the dashboard's pages send.",
            )
        if not request.header("content-type").startswith("application/json"):
            return 403, "a write sends JSON (Content-Type: application/json)."
        origin = request.header("origin")
        if origin and origin != f"{request.scheme}://{request.header('host')}":
            return 403, f"a write from another site ({origin}) is refused."
        if request.header("sec-fetch-site") not in ("", "same-origin", "none"):
            return 403, "a write from another site is refused."
        return None


class _Request:
    """The parts of an HTTP request that the guard reads."""

    def __init__(self, scope: Scope) -> None:
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.scheme: str = scope.get("scheme", "http")
        self._headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
        }
        self._query = parse_qsl(scope.get("query_string", b"").decode("latin-1"))
        self.query_token = next((v for k, v in self._query if k == "token"), None)

    def header(self, name: str) -> str:
        return self._headers.get(name, "")

    @property
    def hostname(self) -> str:
        host = self.header("host")
        if host.startswith("["):
            return host[1 : host.find("]")]
        return host.rsplit(":", 1)[0] if host.count(":") == 1 else host

    def token(self) -> str | None:
        authorization = self.header("authorization")
        if authorization.lower().startswith("bearer "):
            return authorization[7:].strip()
        cookie: SimpleCookie = SimpleCookie()
        try:
            cookie.load(self.header("cookie"))
        except Exception:  # a malformed cookie header carries no token  # noqa: BLE001
            cookie = SimpleCookie()
        if TOKEN_COOKIE in cookie:
            return cookie[TOKEN_COOKIE].value
        return self.query_token

    def path_without_token(self) -> str:
        rest = [(k, v) for k, v in self._query if k != "token"]
        return self.path + (f"?{urlencode(rest)}" if rest else "")


def _with_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            headers += [(k.encode(), v.encode()) for k, v in _SECURITY_HEADERS]
            message["headers"] = headers
        await send(message)

    return sending


_SECURITY_HEADERS = (
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
)


async def _send_error(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await _with_headers(send)({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_redirect(send: Send, location: str, token: str) -> None:
    cookie = f"{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
    headers = [
        (b"location", location.encode("latin-1")),
        (b"set-cookie", cookie.encode("latin-1")),
        (b"content-length", b"0"),
    ]
    await _with_headers(send)({"type": "http.response.start", "status": 303, "headers": headers})
    await send({"type": "http.response.body", "body": b""})

"""Serving the dashboard with uvicorn: in the foreground (`tunelab dashboard`), or in a thread
beside a running study (`tunelab run --dashboard`), stopped when the study ends."""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from tunelab.dashboard.app import create_app
from tunelab.dashboard.security import TOKEN_ENV, check_bind
from tunelab.exceptions import ConfigError, MissingExtraError
from tunelab.storage import BaseStorage

STARTUP_TIMEOUT_S = 10.0
SHUTDOWN_GRACE_S = 1  # seconds; uvicorn takes a whole number


def resolve_token(token: str | None) -> str | None:
    """The token given, else the one in the environment variable TUNELAB_DASHBOARD_TOKEN."""
    return token or os.environ.get(TOKEN_ENV) or None


def _server(
    storage: str | BaseStorage, host: str, port: int, token: str | None, read_only: bool
) -> tuple[Any, socket.socket]:
    """A uvicorn server over the app, and the socket it will listen on (bound here, so that
    a port in use is a clear error before anything starts)."""
    try:
        import uvicorn
    except ImportError as error:
        raise MissingExtraError("uvicorn", "web", "tunelab dashboard") from error
    token = resolve_token(token)
    check_bind(host, token)
    app = create_app(storage, token=token, read_only=read_only)
    threading.Thread(target=app.state.dashboard.prepare, name="tunelab-dashboard-prepare",
                     daemon=True).start()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # Named as TCP: asyncio sets TCP_NODELAY only on connections whose socket says so, and
    # without it every response on a kept-alive connection waits 40 ms for a delayed ACK.
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        why = (
            "is in use" if error.errno == errno.EADDRINUSE else f"cannot be used ({error.strerror})"
        )
        raise ConfigError(
            f"option --port: port {port} on {host} {why}; choose another with --port.",
            field="port",
        ) from None
    # log_config=None: uvicorn leaves the logging of the process it runs in as it found it
    # (its own configuration would bind handlers to whatever sys.stderr is at that moment).
    # An open page's live feed never ends by itself: on shutdown, it is given a moment to.
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        log_config=None,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
    return uvicorn.Server(config), listener


def serve(
    storage: str | BaseStorage,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    token: str | None = None,
    read_only: bool = False,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve the dashboard over ``storage`` until interrupted (Ctrl-C); ``announce`` is
    called with its address once the port is taken."""
    server, listener = _server(storage, host, port, token, read_only)
    with listener:
        if announce is not None:
            announce(_address(host, listener))
        server.run(sockets=[listener])


def _address(host: str, listener: socket.socket) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{listener.getsockname()[1]}/"


@contextlib.contextmanager
def serving(
    storage: str | BaseStorage,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    token: str | None = None,
    read_only: bool = False,
) -> Iterator[str]:
    """Serve the dashboard in a thread while the block runs; yields its address."""
    server, listener = _server(storage, host, port, token, read_only)
    thread = threading.Thread(
        target=server.run,
        kwargs={"sockets": [listener]},
        name="tunelab-dashboard",
        daemon=True,
    )
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield _address(host, listener)
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_S)
        listener.close()

"""The dashboard served by uvicorn: the live feed as server-sent events, and a port in use."""

from __future__ import annotations

import contextlib
import json
import socket
import threading

import httpx
import pytest

import tunelab
from tunelab.dashboard import serving
from tunelab.exceptions import ConfigError

pytestmark = pytest.mark.slow


def _events(lines, count: int) -> list[dict]:
    events, data = [], None
    for line in lines:
        if line.startswith("data: "):
            data = json.loads(line[6:])
        elif line == "" and data is not None:
            events.append(data)
            data = None
            if len(events) == count:
                return events
    return events


def test_the_feed_streams_only_the_trials_changed_after_the_cursor(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'feed.db'}"
    study = tunelab.create_study(name="feed", storage=url)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    with serving(url, port=0) as address:
        revision = httpx.get(f"{address}api/studies/feed").json()["revision"]
        with httpx.stream(
            "GET", f"{address}api/studies/feed/events?cursor={revision}", timeout=30
        ) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            trial = study.ask()
            trial.report(1.5, step=0)
            (event,) = _events(stream.iter_lines(), 1)

    assert [(t["number"], t["state"], t["curve"]) for t in event["trials"]] == [
        (3, "RUNNING", [[0, 1.5]])
    ]
    assert event["counts"] == {"COMPLETE": 3, "RUNNING": 1} and event["revision"] > revision


def test_a_port_in_use_is_a_clear_error(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'port.db'}"
    tunelab.create_study(name="port", storage=url)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"port {port} .* is in use"), serving(url, port=port):
            pass


def test_the_listening_socket_is_named_tcp_so_that_responses_are_not_held_back(tmp_path) -> None:
    # asyncio switches Nagle's algorithm off (TCP_NODELAY) only on connections accepted from a
    # socket whose protocol is IPPROTO_TCP; a plain socket(AF_INET, SOCK_STREAM) says 0, and
    # each response on a kept-alive connection then waits for the browser's delayed ACK.
    from tunelab.dashboard.server import _server

    url = f"sqlite:///{tmp_path / 'tcp.db'}"
    tunelab.create_study(name="tcp", storage=url)
    _, listener = _server(url, "127.0.0.1", 0, None, False)
    with listener:
        assert listener.proto == socket.IPPROTO_TCP


def test_the_server_stops_while_a_page_follows_the_live_feed(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'open.db'}"
    study = tunelab.create_study(name="open", storage=url)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    with httpx.Client(timeout=30) as client, contextlib.ExitStack() as page:
        with serving(url, port=0) as address:
            feed = page.enter_context(
                client.stream("GET", f"{address}api/studies/open/events?cursor=0")
            )
            assert feed.headers["content-type"].startswith("text/event-stream")
            (server,) = [t for t in threading.enumerate() if t.name == "tunelab-dashboard"]
        # serving() returned while the page still listened: the server did not wait for it.
        assert not server.is_alive()

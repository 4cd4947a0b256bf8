"""`tunelab dashboard`: the live web dashboard over a storage."""

from __future__ import annotations

from typing import Annotated

import typer

from tunelab.cli.common import (
    DebugOption,
    StorageOption,
    examples,
    existing_storage,
    out,
    user_facing,
)
from tunelab.exceptions import MissingExtraError
from tunelab.storage import DEFAULT_STORAGE

commands = typer.Typer()

HostOption = Annotated[
    str,
    typer.Option(
        "--host",
        help="The address to serve on. Anything but this machine (127.0.0.1) needs --token.",
    ),
]
PortOption = Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="The port.")]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="TUNELAB_DASHBOARD_TOKEN",
        help="A secret every request must carry; open the dashboard at /?token=TOKEN once. "
        "Default: the TUNELAB_DASHBOARD_TOKEN environment variable.",
        show_default=False,
    ),
]
ReadOnlyOption = Annotated[
    bool,
    typer.Option("--read-only", help="Hide and refuse every write (stop, prune, enqueue, notes)."),
]


@commands.command(
    epilog=examples(
        "tunelab dashboard                              # ./tunelab.db at http://127.0.0.1:8080/",
        "tunelab dashboard --storage sqlite:///runs.db --port 8090 --read-only",
        'tunelab dashboard --host 0.0.0.0 --token "$(openssl rand -hex 16)"',
    )
)
@user_facing
def dashboard(
    storage: StorageOption = DEFAULT_STORAGE,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8080,
    token: TokenOption = None,
    read_only: ReadOnlyOption = False,
    debug: DebugOption = False,
) -> None:
    """Serve a live dashboard of the studies in a storage: watch trials as they run, open any
    trial's curves and the doctor's findings, compare trials, and stop a study, prune a trial,
    enqueue a configuration or add notes. Ctrl-C stops it."""
    url = existing_storage(storage)
    try:
        from tunelab.dashboard import serve
    except ModuleNotFoundError as error:
        raise MissingExtraError(error.name or "starlette", "web", "tunelab dashboard") from None
    serve(
        url,
        host=host,
        port=port,
        token=token,
        read_only=read_only,
        announce=lambda address: out().print(
            f"Serving the dashboard of {url} at {address} (Ctrl-C stops it).", soft_wrap=True
        ),
    )

"""``touchpoint serve``: the HTTP API and the dashboard, built from the settings.

The composition root of the read side over HTTP: it takes the read model path,
the API keys and the PII pepper from the settings and hands them to
``api.create_app``, then runs it with uvicorn. With no ``TOUCHPOINT_API_KEYS`` it
makes a random key for the run and prints it (nothing is ever served without a
key; docs/api.md).
"""

from __future__ import annotations

import secrets

import click

from streams.cli_options import with_settings
from streams.cli_output import console
from streams.settings import Settings

WILDCARD_HOSTS = ("0.0.0.0", "::", "")


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0: every interface, as in a container).",
)
@click.option("--port", "-p", type=click.IntRange(1, 65535), default=8080, show_default=True)
@with_settings
def serve(settings: Settings, host: str, port: int) -> None:
    """Serve the HTTP API and the customer-service dashboard over the read model.

    Reads the snapshot at --db (read-only, reopened as the materializer publishes new
    ones), so it runs beside `touchpoint worker`. API requests need a key from
    TOUCHPOINT_API_KEYS in the X-API-Key header; without keys configured, one is made
    for this run and printed. Spec: /openapi.json; docs/api.md.
    """
    import uvicorn

    from api import create_app
    from schemas.pii import InMemoryKeyVault, PiiSealer

    keys = settings.api_key_list()
    made = () if keys else (secrets.token_urlsafe(24),)
    # Only the pepper is used: fingerprints need no customer key, and the API never opens
    # sealed data, so the key vault is not touched (the container mounts /data read-only).
    sealer = PiiSealer(InMemoryKeyVault(), settings.pii_pepper.get_secret_value().encode())
    app = create_app(settings.db, keys or made, sealer.fingerprint)
    shown = "127.0.0.1" if host in WILDCARD_HOSTS else host
    address = f"http://{shown if ':' not in shown else f'[{shown}]'}:{port}/"
    if made:
        console.print(
            "[yellow]no TOUCHPOINT_API_KEYS set[/]: made an API key for this run "
            f"(send it as X-API-Key): {made[0]}",
            soft_wrap=True,  # never break a key or an address across lines
        )
        console.print(f"dashboard: [bold]{address}#key={made[0]}[/]", soft_wrap=True)
    else:
        console.print(
            f"dashboard: [bold]{address}[/] (it asks for an API key once)", soft_wrap=True
        )
    if not settings.db.is_file():
        console.print(f"no read model at {settings.db} yet: answers are 503 until one is published")
    verbose = click.get_current_context().find_root().params.get("verbose", 0)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info" if verbose else "warning",
        access_log=bool(verbose),
    )

"""Options shared by every command, turned into one ``Settings`` object."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from streams.settings import load_settings


def with_settings(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add --config/--bootstrap-servers/--db/--topic-prefix and pass ``settings``."""

    @click.option(
        "--config",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="TOUCHPOINT_CONFIG",
        help="TOML settings file (see docs/configuration.md).  [env: TOUCHPOINT_CONFIG]",
    )
    @click.option(
        "--bootstrap-servers",
        "-b",
        metavar="HOST:PORT[,...]",
        help="Kafka bootstrap servers.  [env: KAFKA_BOOTSTRAP_SERVERS; default: the "
        "embedded broker, 127.0.0.1:9092]",
    )
    @click.option(
        "--db",
        type=click.Path(dir_okay=False, path_type=Path),
        help="DuckDB read-model file.  [env: TOUCHPOINT_DB; default: touchpoint.duckdb]",
    )
    @click.option(
        "--topic-prefix",
        metavar="PREFIX",
        help="Prefix of every topic name.  [env: TOUCHPOINT_TOPIC_PREFIX]",
    )
    @functools.wraps(fn)
    def wrapper(
        *args: Any,
        config: Path | None,
        bootstrap_servers: str | None,
        db: Path | None,
        topic_prefix: str | None,
        **kwargs: Any,
    ) -> Any:
        try:
            settings = load_settings(
                config, bootstrap_servers=bootstrap_servers, db=db, topic_prefix=topic_prefix
            )
        except (ValueError, FileNotFoundError) as exc:
            raise click.UsageError(f"bad settings: {exc}") from exc
        return fn(*args, settings=settings, **kwargs)

    return wrapper

"""Per-request dependencies: a read-only connection to the latest snapshot, with freshness.

May import: fastapi, duckdb, api, stdlib.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

import duckdb
from fastapi import Depends, Request, Response

from api.freshness import Freshness, freshness_of, set_headers
from api.snapshot import SnapshotReader


@dataclass(frozen=True, slots=True)
class Reading:
    """What a request reads from: one snapshot's connection, and how fresh it is."""

    conn: duckdb.DuckDBPyConnection
    freshness: Freshness


def _reading(request: Request, response: Response) -> Iterator[Reading]:
    reader: SnapshotReader = request.app.state.reader
    with reader.reading() as (conn, snapshot):
        freshness = freshness_of(snapshot)
        set_headers(response, freshness)
        yield Reading(conn, freshness)


ReadModel = Annotated[Reading, Depends(_reading)]

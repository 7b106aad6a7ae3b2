"""How fresh an answer is, in every response body (``freshness``) and in headers.

- ``watermark``: the event time the read model has reached (``pipeline_watermark``:
  the largest ``as_of`` of any customer view applied);
- ``published_at``: when the materializer published the snapshot that answered;
- ``lag_seconds``: wall-clock seconds from then to the answer. While events flow
  the materializer publishes every few seconds, so this stays small; when it
  grows, either nothing new has arrived or the materializer has stopped.

The lag of the stream tier behind Kafka (consumer lag) is not visible from the
read model; see docs/api.md.

May import: fastapi, pydantic, api, stdlib.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import Response
from pydantic import BaseModel, Field

from api.snapshot import Snapshot

HEADER_WATERMARK = "X-Read-Model-Watermark"
HEADER_PUBLISHED = "X-Read-Model-Published-At"
HEADER_LAG = "X-Read-Model-Lag-Seconds"


class Freshness(BaseModel):
    """How fresh the read model behind an answer is."""

    watermark: datetime | None = Field(
        description="Event time the read model has reached (the largest as_of of any customer "
        "view applied); null before the first view."
    )
    published_at: datetime = Field(
        description="When the snapshot that answered was published by the materializer (UTC)."
    )
    lag_seconds: float = Field(
        ge=0,
        description="Wall-clock seconds between published_at and this answer: how long ago the "
        "read model was last brought up to date.",
    )


def freshness_of(snapshot: Snapshot, now: datetime | None = None) -> Freshness:
    """The freshness of an answer from ``snapshot`` given at ``now`` (default: the clock)."""
    published = snapshot.published_at
    lag = ((now or datetime.now(UTC)) - published).total_seconds()
    return Freshness(watermark=snapshot.watermark, published_at=published, lag_seconds=max(lag, 0))


def set_headers(response: Response, freshness: Freshness) -> None:
    """The same facts as headers, for clients that do not read bodies (and for the 304-less
    polling of dashboards)."""
    if freshness.watermark is not None:
        response.headers[HEADER_WATERMARK] = freshness.watermark.isoformat()
    response.headers[HEADER_PUBLISHED] = freshness.published_at.isoformat()
    response.headers[HEADER_LAG] = f"{freshness.lag_seconds:.3f}"

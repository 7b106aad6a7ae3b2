"""`touchpoint fit` end to end: worker -> read model -> fit -> clv topics -> read model."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from projections import queries
from projections.clv import FittedModels
from streams.clv_job import ClvJob, fit_from_read_model, publish
from streams.idle import run_until_idle
from streams.materializer import Materializer
from streams.settings import Settings
from streams.topics import create_topics
from streams.worker import ProcessingWorker
from tests.integration.test_worker import publish_simulation

pytestmark = pytest.mark.broker


def materialize(settings: Settings) -> None:
    with Materializer(settings) as materializer:
        materializer.run_until_caught_up(timeout=120)


def test_fit_scores_every_buyer_as_of_the_event_time_watermark(settings: Settings) -> None:
    create_topics(settings)
    publish_simulation(settings, customers=200, days=365)
    asyncio.run(run_until_idle(ProcessingWorker(settings), timeout_s=240))
    materialize(settings)

    conn = queries.open_read_model(settings.db)
    try:
        outcome = fit_from_read_model(conn, settings, ClvJob())
        buyers, watermark = conn.execute(
            "SELECT count(*) FILTER (WHERE purchase_count > 0), max(as_of) FROM customer_view"
        ).fetchone()
    finally:
        conn.close()
    again = FittedModels.from_json(outcome.models.to_json())
    assert again == outcome.models  # what is published is what was fitted
    assert outcome.customers == buyers == len(outcome.scores)
    assert outcome.models.fitted_at == watermark  # event time, not the wall clock
    publish(settings, outcome)
    materialize(settings)

    conn = queries.open_read_model(settings.db)
    try:
        stored = conn.execute("SELECT count(*), min(p_alive), max(p_alive) FROM clv").fetchone()
        fits = conn.execute("SELECT fitted_at FROM clv_fits").fetchall()
        pyramid = queries.tiers(conn)
        low = conn.execute(
            "SELECT customer_id FROM churn_warnings WHERE status = 'open' "
            "AND reasons = ['low_p_alive'] AND raised_at = ?",
            [watermark],
        ).fetchall()
        refit = fit_from_read_model(conn, settings, ClvJob())
    finally:
        conn.close()
    assert {c for (c,) in low} == {c for c, s in outcome.scores.items() if s.p_alive < 0.3}
    assert low, "the simulation has customers the model thinks are gone"
    assert refit.warnings == []  # the same scores again: nothing raised twice
    assert stored[0] == buyers and 0.0 <= stored[1] <= stored[2] <= 1.0
    assert [row[0] for row in fits] == [watermark]
    assert isinstance(watermark, datetime)
    assert pyramid.pareto_share is not None and 0.2 < pyramid.pareto_share <= 1.0

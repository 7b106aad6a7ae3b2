"""The lifetime-value refit: read the customer base from the read model, fit BG/NBD
and Gamma-Gamma (projections/clv.py), publish the fit, every customer's scores, and
the ``low_p_alive`` churn warnings they raise or clear (projections/churn_model.py).

The read model has one writer (the materializer), so the job does not write to it:
it publishes to ``clv-fits`` and ``clv-scores`` and the materializer stores them.
``fitted_at`` is the read model's event-time watermark, never the wall clock, so a
refit over the same events gives the same parameters and scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import numpy as np

from projections import clv
from projections.churn import ChurnWarningEvent, OpenWarning
from projections.churn_model import CODE as LOW_P_ALIVE
from projections.churn_model import model_warnings
from projections.value_records import ClvScore
from streams import kafka_clients
from streams.settings import Settings, churn_rules_of
from streams.topics import CHURN_EVENTS, CLV_FITS, CLV_SCORES

BASE_SQL = """
SELECT customer_id, frequency, recency_days,
       date_diff('day', CAST(first_purchase_at AS DATE), CAST(? AS DATE)) AS t_days,
       monetary_minor, currency
FROM customer_view
WHERE purchase_count > 0
ORDER BY customer_id
"""


@dataclass(frozen=True)
class ClvJob:
    horizon_days: float = 90.0
    months: int = 12
    annual_discount_rate: float = 0.10


@dataclass(frozen=True)
class FitOutcome:
    models: clv.FittedModels
    customers: int
    scores: dict[str, ClvScore]
    warnings: list[ChurnWarningEvent] = field(default_factory=list)  # low_p_alive


def fit_from_read_model(
    conn: duckdb.DuckDBPyConnection, settings: Settings, job: ClvJob
) -> FitOutcome:
    """Fit on every buyer of the read model, as of its watermark, and score them."""
    watermark = conn.execute("SELECT max(as_of) FROM customer_view").fetchone()
    if watermark is None or watermark[0] is None:
        raise ValueError(
            "the read model has no customers yet: run `touchpoint worker --until-idle`"
        )
    as_of: datetime = watermark[0]
    rows = conn.execute(BASE_SQL, [as_of]).fetchall()
    ids = [row[0] for row in rows]
    frequency, recency, age = (np.array([row[i] for row in rows], dtype=float) for i in (1, 2, 3))
    rates = {settings.reporting_currency: 1.0, **settings.fx_rates}
    monetary = np.array([row[4] * rates.get(row[5], 0.0) for row in rows], dtype=float)
    monetary[frequency == 0] = 0.0
    models = clv.fit_models(frequency, recency, age, monetary, fitted_at=as_of, time_unit="days")
    scored = clv.score_customers(
        models, frequency, recency, age, monetary,
        horizon=job.horizon_days, months=job.months,
        monthly_discount_rate=clv.monthly_rate(job.annual_discount_rate),
    )  # fmt: skip
    scores = {
        customer: _score(customer, as_of, settings, job, scored, i)
        for i, customer in enumerate(ids)
    }
    p_alive = {c: score.p_alive for c, score in scores.items()}
    rules = churn_rules_of(settings.churn_rules)
    warnings = model_warnings(p_alive, _open_model_warnings(conn), as_of, rules)
    return FitOutcome(models, len(ids), scores, warnings)


def _open_model_warnings(conn: duckdb.DuckDBPyConnection) -> dict[str, OpenWarning]:
    """The ``low_p_alive`` warnings open in the read model (none in an older file)."""
    try:
        rows = conn.execute(
            "SELECT customer_id, warning_id, reasons, severity FROM churn_warnings "
            "WHERE status = 'open' AND list_contains(reasons, ?)",
            [LOW_P_ALIVE],
        ).fetchall()
    except duckdb.CatalogException:
        return {}
    return {c: OpenWarning(w, tuple(r), s) for c, w, r, s in rows}


def _score(
    customer: str, as_of: datetime, settings: Settings, job: ClvJob, scored: Any, i: int
) -> ClvScore:
    def number(values: Any) -> float | None:
        value = float(values[i])
        return value if np.isfinite(value) else None

    return ClvScore(
        customer_id=customer,
        fitted_at=as_of,
        p_alive=float(scored.p_alive[i]),
        expected_purchases_90d=float(scored.expected_purchases[i]),
        expected_spend_minor=number(scored.expected_spend),
        clv_minor=number(scored.clv),
        currency=settings.reporting_currency,
        horizon_months=job.months,
        monthly_discount_rate=clv.monthly_rate(job.annual_discount_rate),
    )


def publish(settings: Settings, outcome: FitOutcome) -> None:
    """The fit to ``clv-fits`` and the scores to ``clv-scores`` (acks=all)."""
    producer = kafka_clients.producer(settings)
    try:
        producer.send(settings.topic(CLV_FITS), key=b"clv", value=outcome.models.to_json().encode())
        for customer, score in outcome.scores.items():
            producer.send(settings.topic(CLV_SCORES), key=customer.encode(), value=score.to_json())
        for event in outcome.warnings:
            key = event.customer_id.encode()
            producer.send(settings.topic(CHURN_EVENTS), key=key, value=event.to_json())
        producer.flush()
    finally:
        producer.close()

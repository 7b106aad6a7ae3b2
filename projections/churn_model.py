"""The ``low_p_alive`` warning: the lifetime-value model's P(alive) at each refit.

P(alive) comes from the BG/NBD fit (projections/clv.py), which ``touchpoint
fit`` runs over the read model as of its event-time watermark. That is a batch
over every customer, not a fold over one customer's events, so this warning
has its own lifecycle (``source`` "model"), next to the one of the stream
rules: raised when P(alive) falls below ``low_p_alive``, updated when its
severity changes, cleared when a later refit finds it at ``p_alive_recover``
or more. All at the fit's ``fitted_at``, so a refit over the same events
publishes the same events.

May import: projections, stdlib.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from fractions import Fraction

from projections.churn import CLEARED, RAISED, UPDATED, ChurnWarningEvent, OpenWarning
from projections.churn_rules import CRITICAL, SEVERITY_POINTS, WARNING, ChurnRules

CODE = "low_p_alive"
_NAMESPACE = uuid.UUID("0d8a3f0e-3b7c-4f4e-8f0a-6a2d9c1b7e55")


def model_warnings(
    p_alive: Mapping[str, float],
    open_now: Mapping[str, OpenWarning],
    fitted_at: datetime,
    rules: ChurnRules,
) -> list[ChurnWarningEvent]:
    """The ``low_p_alive`` events of one refit, by customer id (``open_now``: the model
    warnings open before it)."""
    out = []
    for customer in sorted(p_alive.keys() | open_now.keys()):
        p = p_alive.get(customer)
        held = open_now.get(customer)
        severity = _severity(p, held is not None, rules)
        evidence = {CODE: {"p_alive": round(p, 4)}} if p is not None else {}
        if held is None and severity is not None:
            warning_id = str(uuid.uuid5(_NAMESPACE, f"{customer}/{fitted_at.isoformat()}"))
            out.append(_event(RAISED, customer, warning_id, fitted_at, severity, rules, evidence))
        elif held is not None and severity is None:
            why = (
                f"{CODE}: P(alive) {p:.2f} at the refit of {fitted_at.date()}"
                if p is not None
                else f"{CODE}: no longer scored (merged into another customer)"
            )
            cleared = ChurnWarningEvent(
                CLEARED, customer, held.warning_id, fitted_at, held.reasons, held.severity,
                0.0, {}, 0, why, source="model",
            )  # fmt: skip
            out.append(cleared)
        elif held is not None and severity is not None and severity != held.severity:
            event = _event(UPDATED, customer, held.warning_id, fitted_at, severity, rules, evidence)
            out.append(event)
    return out


def _severity(p: float | None, held: bool, rules: ChurnRules) -> str | None:
    if p is None:
        return None
    exact = Fraction(str(p))
    if exact < Fraction(str(rules.critical_p_alive)):
        return CRITICAL
    limit = rules.p_alive_recover if held else rules.low_p_alive
    return WARNING if exact < Fraction(str(limit)) else None


def _event(
    kind: str,
    customer: str,
    warning_id: str,
    at: datetime,
    severity: str,
    rules: ChurnRules,
    evidence: Mapping[str, Mapping[str, float]],
) -> ChurnWarningEvent:
    score = round(rules.weights.get(CODE, 1.0) * SEVERITY_POINTS[severity], 3)
    why = f"severity now {severity}" if kind == UPDATED else None
    return ChurnWarningEvent(
        kind, customer, warning_id, at, (CODE,), severity, score, evidence, 0, why, source="model"
    )

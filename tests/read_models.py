"""A small read model with known contents, for the read side (API, dashboard) tests.

``a_known_read_model(path)`` publishes, through the real store, the views of five
customers folded from events (C3 merged into C1), their loyalty stages and changes,
value tiers, CLV scores, and then adds churn warnings and complaint SLA rows with
SQL (``add_churn``): the churn tables come from projections/churn_store.py.

C1: registered as alice@example.com / +49 151 2345678, three purchases, a complaint
    open past its deadline; repeat_buyer, tier key; two open warnings.
C2: one purchase; first_time_buyer, tier small; one open warning (overdue_purchase).
C3: merged into C1.
C4: seven purchases, a complaint resolved on time; loyal, tier vip; a cleared warning.
C5: registered only; prospect, no tier.

May import: projections, schemas, tests, stdlib, duckdb.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from projections.churn_store import CHURN_SCHEMA
from projections.customer_view import fold, initial, view
from projections.duckdb_store import DuckDBProjectionStore
from projections.loyalty import Stage
from projections.ports import StoreRecord
from projections.value_tiers import Tier
from projections.view_records import ViewRecord, decode_view_record, encode_view_record
from tests.builders import (
    a_complaint,
    a_purchase,
    a_registration,
    a_resolution,
    days_after,
    eid,
    sealed,
)
from tests.unit.test_projection_store_contract import (
    a_change,
    a_score,
    a_tier_change,
    alias_record,
    current,
    current_tier,
    logged,
    transition,
)

AS_OF_DAY = 60  # the views' as_of (and the watermark): T0 + 60 days
ALICE_EMAIL = "alice@example.com"
ALICE_PHONE = "+49 151 2345678"
STAGES = {"C1": Stage.REPEAT_BUYER, "C2": Stage.FIRST_TIME_BUYER, "C4": Stage.LOYAL}
STAGES_C5 = Stage.PROSPECT
TIERS = {"C1": (Tier.KEY, 3000), "C2": (Tier.SMALL, 1000), "C4": (Tier.VIP, 9000)}


def at(day: float) -> datetime:
    return datetime.fromisoformat(days_after(day))


def _events(customer: str) -> list[dict[str, Any]]:
    if customer == "C1":
        return [
            a_registration("C1", days_after(0), email=ALICE_EMAIL, phone=ALICE_PHONE),
            *(a_purchase("C1", 1000, days_after(d), event_id=eid(f"C1-p{d}")) for d in (1, 10, 20)),
            a_complaint("C1", days_after(30), complaint_id="K1", promised_by=days_after(33)),
        ]
    if customer == "C2":
        return [a_purchase("C2", 1000, days_after(5), event_id=eid("C2-p"))]
    if customer == "C4":
        return [
            a_registration("C4", days_after(0), email="bob@example.com", phone="+33 6 12 34 56 78"),
            *(
                a_purchase("C4", 1300, days_after(d), event_id=eid(f"C4-p{d}"))
                for d in range(1, 50, 7)
            ),
            a_complaint("C4", days_after(15), complaint_id="K4", promised_by=days_after(18)),
            a_resolution("C4", days_after(16), complaint_id="K4", accepted=True),
        ]
    return [a_registration(customer, days_after(2), email="carol@example.com", phone="+1 555 0100")]


def a_view_record(customer: str) -> ViewRecord:
    state = fold(initial(customer), [sealed(raw) for raw in _events(customer)])
    record = decode_view_record(encode_view_record(view(state, at(AS_OF_DAY))))
    assert isinstance(record, ViewRecord)
    return record


def _records() -> list[StoreRecord]:
    records: list[StoreRecord] = [a_view_record(c) for c in ("C1", "C2", "C4", "C5")]
    records.append(alias_record("C3", "C1"))
    ladder = [Stage.PROSPECT, Stage.FIRST_TIME_BUYER, Stage.REPEAT_BUYER, Stage.LOYAL]
    for customer, stage in [*STAGES.items(), ("C5", STAGES_C5)]:
        steps = ladder[: ladder.index(stage) + 1]
        changes = [
            a_change(customer, day, step, steps[day - 1] if day else None)
            for day, step in enumerate(steps)
        ]
        records += [*map(transition, changes), current(changes[-1])]
    for customer, (tier, value) in TIERS.items():
        records.append(current_tier(a_tier_change(customer, tier, value, rank=None)))
    records += [a_score("C1", clv=4200.0), a_score("C4", clv=98000.0), a_score("C2", clv=None)]
    return records


def a_known_read_model(path: Path) -> Path:
    """The read model described above, published at ``path`` (snapshot) with churn rows."""
    with DuckDBProjectionStore.open_writer(path) as store:
        store.apply(logged(*_records()), {})
    add_churn(path)
    return path


WARNINGS = [  # warning_id, customer, status, reasons, severity, score, raised day, cleared day
    ("W1", "C1", "open", ["complaint_overdue", "low_satisfaction"], "critical", 0.9, 34, None),
    ("W2", "C1", "open", ["overdue_purchase"], "warning", 0.4, 50, None),
    ("W3", "C2", "open", ["overdue_purchase"], "warning", 0.5, 40, None),
    ("W4", "C4", "cleared", ["falling_spend"], "warning", 0.3, 20, 30),
]
COMPLAINTS = [  # customer, complaint, filed day, deadline day, resolved day, accepted, repurchased
    ("C1", "K1", 30, 33, None, None, None),
    ("C4", "K4", 15, 18, 16, True, 22),
    ("C2", "K2", 6, 9, 12, False, None),
    ("C5", "K5", 58, 61, None, None, None),
]


def add_churn(path: Path) -> None:
    """Create the churn tables in the published file at ``path`` and fill them."""
    with duckdb.connect(str(path)) as conn:
        for statement in CHURN_SCHEMA:
            conn.execute(statement)
        for wid, customer, status, reasons, severity, score, raised, cleared in WARNINGS:
            evidence = json.dumps({"rule": reasons[0], "days_since_last_purchase": 40})
            conn.execute(
                "INSERT INTO churn_warnings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [wid, customer, status, reasons, severity, score, evidence, 1000, at(raised),
                 at(raised), None if cleared is None else at(cleared),
                 None if cleared is None else "purchase"],
            )  # fmt: skip
            conn.execute(
                "INSERT INTO churn_warning_events VALUES (?, ?, 'raised', ?, ?, ?, ?, ?)",
                [wid, customer, at(raised), reasons, severity, score, evidence],
            )
            if cleared is not None:
                conn.execute(
                    "INSERT INTO churn_warning_events VALUES (?, ?, 'cleared', ?, ?, NULL, "
                    "NULL, '{}')",
                    [wid, customer, at(cleared), reasons],
                )
        for customer, complaint, filed, deadline, resolved, accepted, bought in COMPLAINTS:
            outcome = "open" if resolved is None else "on_time" if resolved <= deadline else "late"
            hours = None if resolved is None else (resolved - filed) * 24.0
            conn.execute(
                "INSERT INTO complaint_sla VALUES (?, ?, 'product', 'medium', ?, ?, ?, ?, ?, ?, ?)",
                [customer, complaint, at(filed), at(deadline),
                 None if resolved is None else at(resolved), accepted, outcome, hours,
                 None if bought is None else at(bought)],
            )  # fmt: skip

"""Complaint timeliness: each complaint with its deadline, resolution and what the customer
did next (the rows of the read model's ``complaint_sla`` table).

A complaint is resolved by its first resolution that was not rejected; it is
on time when that came by its deadline (``promised_by``, else the default by
category, severity and value: ``ChurnRules``), late otherwise, and open while
there is none. ``repurchased_at`` is the first purchase after the resolution
(after the filing while the complaint is open): the share that buy again,
for complaints resolved fast, late or never, is the figure the source
material teaches (54-70% after a resolution, about 95% when fast).

May import: projections, stdlib.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime

from projections.churn_rules import ChurnRules, Prepared, Valuation
from projections.customer_facts import DAY, CustomerFacts, to_datetime

OPEN, ON_TIME, LATE = "open", "on_time", "late"


@dataclass(frozen=True, slots=True)
class ComplaintRecord:
    customer_id: str
    complaint_id: str
    category: str
    severity: str
    filed_at: datetime
    deadline: datetime
    resolved_at: datetime | None
    accepted: bool | None
    outcome: str
    hours_to_resolve: float | None
    repurchased_at: datetime | None

    def to_dict(self) -> dict[str, object]:
        def iso(when: datetime | None) -> str | None:
            return None if when is None else when.isoformat()

        return {
            "complaint_id": self.complaint_id,
            "category": self.category,
            "severity": self.severity,
            "filed_at": iso(self.filed_at),
            "deadline": iso(self.deadline),
            "resolved_at": iso(self.resolved_at),
            "accepted": self.accepted,
            "outcome": self.outcome,
            "hours_to_resolve": self.hours_to_resolve,
            "repurchased_at": iso(self.repurchased_at),
        }


def complaint_records(
    facts: CustomerFacts, rules: ChurnRules, valuation: Valuation | None = None
) -> list[ComplaintRecord]:
    """The customer's complaints, oldest first."""
    p = Prepared(facts, rules, valuation)
    out = []
    for c in p.complaints:
        after = c.filed if c.resolved is None else c.resolved
        i = bisect_right(p.purchase_at, after)
        bought = p.purchase_at[i] if i < len(p.purchase_at) else None
        if c.resolved is None:
            outcome, hours = OPEN, None
        else:
            outcome = ON_TIME if c.resolved <= c.deadline else LATE
            hours = round((c.resolved - c.filed) / (DAY / 24), 2)
        out.append(
            ComplaintRecord(
                customer_id=facts.customer_id,
                complaint_id=c.complaint_id,
                category=c.category,
                severity=c.severity,
                filed_at=to_datetime(c.filed),
                deadline=to_datetime(c.deadline),
                resolved_at=None if c.resolved is None else to_datetime(c.resolved),
                accepted=c.accepted,
                outcome=outcome,
                hours_to_resolve=hours,
                repurchased_at=None if bought is None else to_datetime(bought),
            )
        )
    return out

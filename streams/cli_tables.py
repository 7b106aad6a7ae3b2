"""Rich tables of the read model for the command line: a customer's view, loyalty stage
and stage changes, value tier and CLV; the loyalty funnel and the customer pyramid."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.table import Table

from projections.customer_fold import money
from projections.loyalty import LoyaltyStageChanged
from projections.ports import StoredStage, StoredTier
from projections.queries import FunnelStep, Pyramid
from projections.value_records import ClvScore


def facts_table(title: str, pairs: Iterable[tuple[str, object]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for name, value in pairs:
        table.add_row(name, "-" if value is None or value == [] else str(value))
    return table


def view_tables(view: dict[str, Any]) -> list[Table]:
    complaints = view["complaints"]
    tables = [_identity(view), _purchases(view["purchases"]), _complaints(complaints)]
    if complaints["open"]:
        tables.append(rows_table("open complaints", complaints["open"]))
    tables.append(_satisfaction(view["satisfaction"]))
    columns = ("occurred_at", "event_type", "channel", "summary")
    tables.append(rows_table("timeline (newest first)", view["timeline"], columns))
    return tables


def _identity(v: dict[str, Any]) -> Table:
    identifiers = ", ".join(f"{kind}: {len(fps)}" for kind, fps in v["identifiers"].items())
    return facts_table("identity", [
        ("customer", v["customer_id"]), ("aliases", ", ".join(v["aliases"])),
        ("linked ids", ", ".join(v["linked_customer_ids"])), ("identifiers", identifiers),
        ("channels", ", ".join(v["channels"])), ("events", v["event_count"]),
        ("first seen", v["first_seen_at"]), ("last seen", v["last_seen_at"]),
        ("as of", v["as_of"]), ("referred", ", ".join(v["referred_customer_ids"])),
    ])  # fmt: skip


def _purchases(p: dict[str, Any]) -> Table:
    def cash(name: str) -> str:
        return money(p[name], p["currency"]) if p["currency"] else "-"

    return facts_table("purchases and BTYD", [
        ("purchases", f"{p['purchase_count']} on {p['purchase_days']} days"),
        ("first / last", f"{p['first_purchase_at']} / {p['last_purchase_at']}"),
        ("total spend", cash("total_spend_minor")), ("avg order", cash("avg_order_value_minor")),
        ("spend 90 d / 365 d", f"{cash('spend_90d_minor')} / {cash('spend_365d_minor')}"),
        ("other currencies", p["other_currency_purchases"]),
        ("frequency, recency, T", f"{p['frequency']}, {p['recency_days']}, {p['t_days']}"),
        ("monetary", cash("monetary_minor")),
    ])  # fmt: skip


def _complaints(c: dict[str, Any]) -> Table:
    return facts_table("complaints", [
        ("filed", c["complaints_filed"]), ("resolved", c["complaints_resolved"]),
        ("overdue", c["complaints_overdue"]), ("rejected", c["resolutions_rejected"]),
    ])  # fmt: skip


def _satisfaction(s: dict[str, Any]) -> Table:
    scale = s["last_score_scale"]
    last = None if scale is None else f"{s['last_score_raw']} on {scale[0]}..{scale[1]}"
    return facts_table("satisfaction", [
        ("surveys", s["surveys_answered"]), ("last score", last),
        ("rescaled", s["last_score"]), ("trend", s["trend"]), ("answered", s["last_answered_at"]),
    ])  # fmt: skip


def rows_table(title: str, items: list[dict[str, Any]], columns: Iterable[str] = ()) -> Table:
    columns = list(columns) or (list(items[0]) if items else [])
    table = Table(*columns, title=title, title_justify="left")
    for item in items:
        table.add_row(*("-" if item[k] is None else str(item[k]) for k in columns))
    return table


def loyalty_tables(
    stage: StoredStage | None, changes: Sequence[LoyaltyStageChanged]
) -> list[Table]:
    """The current stage (when there is one) and ``changes`` (oldest first) newest first."""
    tables = []
    if stage is not None:
        tables.append(facts_table("loyalty stage", [
            ("stage", stage.stage.value), ("reason", stage.reason),
            ("since", stage.since.isoformat()), ("trigger", stage.trigger_event_id),
        ]))  # fmt: skip
    if changes:
        rows = [change_json(change) for change in reversed(changes)]
        columns = ("occurred_at", "from_stage", "to_stage", "reason")
        tables.append(rows_table("stage changes (newest first)", rows, columns))
    return tables


def stage_json(stage: StoredStage | None) -> dict[str, Any] | None:
    if stage is None:
        return None
    return {
        "stage": stage.stage.value,
        "reason": stage.reason,
        "since": stage.since.isoformat(),
        "trigger_event_id": None if stage.trigger_event_id is None else str(stage.trigger_event_id),
    }


def change_json(change: LoyaltyStageChanged) -> dict[str, Any]:
    body = change.to_dict()
    return {k: v for k, v in body.items() if k not in ("type", "version", "customer_id")}


def funnel_json(steps: Sequence[FunnelStep]) -> dict[str, Any]:
    return {
        "customers": sum(step.customers for step in steps),
        "stages": [
            {
                "stage": step.stage.value,
                "customers": step.customers,
                "share": step.share,
                "conversion": step.conversion,
            }
            for step in steps
        ],
    }


def funnel_table(steps: Sequence[FunnelStep]) -> Table:
    """Stages in funnel order: customers, share of all, conversion from the rung below."""
    table = Table("stage", "customers", "share", "conversion", title="loyalty funnel",
                  title_justify="left")  # fmt: skip
    for column in table.columns[1:]:
        column.justify = "right"
    for step in steps:
        table.add_row(step.stage.value, f"{step.customers:,}", _percent(step.share),
                      _percent(step.conversion))  # fmt: skip
    return table


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def value_tables(tier: StoredTier | None, score: ClvScore | None) -> list[Table]:
    """The value tier and the CLV scores, each when there is one."""
    tables = []
    if tier is not None:
        rank = "unranked" if tier.rank is None else f"{tier.rank:,} of {tier.population:,}"
        tables.append(facts_table("value tier", [
            ("tier", tier.tier.value), ("rank", rank), ("value", f"{tier.value_minor:,} (minor)"),
        ]))  # fmt: skip
    if score is not None:

        def cash(minor: float | None) -> str | None:
            return None if minor is None else money(round(minor), score.currency)

        tables.append(facts_table("lifetime value", [
            ("p(alive)", f"{score.p_alive:.1%}"),
            ("expected purchases 90 d", f"{score.expected_purchases_90d:.2f}"),
            ("expected spend", cash(score.expected_spend_minor)),
            (f"CLV {score.horizon_months} months", cash(score.clv_minor)),
            ("fitted at", score.fitted_at.isoformat()),
        ]))  # fmt: skip
    return tables


def tier_json(tier: StoredTier | None) -> dict[str, Any] | None:
    if tier is None:
        return None
    return {
        "tier": tier.tier.value,
        "value_minor": tier.value_minor,
        "rank": tier.rank,
        "population": tier.population,
    }


def clv_json(score: ClvScore | None) -> dict[str, Any] | None:
    if score is None:
        return None
    body = score.to_dict()
    return {k: v for k, v in body.items() if k not in ("type", "version", "customer_id")}


def pyramid_json(pyramid: Pyramid) -> dict[str, Any]:
    return {
        "customers": pyramid.customers,
        "ranked": pyramid.ranked,
        "total_value_minor": pyramid.total_value_minor,
        "pareto_share": pyramid.pareto_share,
        "tiers": [
            {
                "tier": row.tier.value,
                "customers": row.customers,
                "value_minor": row.value_minor,
                "customer_share": row.customer_share,
                "value_share": row.value_share,
            }
            for row in pyramid.tiers
        ],
    }


def pyramid_table(pyramid: Pyramid) -> Table:
    """Tiers from the top: customers, value (minor units), shares of customers and value."""
    table = Table("tier", "customers", "value (minor)", "of customers", "of value",
                  title="customer pyramid", title_justify="left")  # fmt: skip
    for column in table.columns[1:]:
        column.justify = "right"
    for row in pyramid.tiers:
        table.add_row(row.tier.value, f"{row.customers:,}", f"{row.value_minor:,}",
                      _percent(row.customer_share), _percent(row.value_share))  # fmt: skip
    return table


def pareto_line(pyramid: Pyramid) -> str:
    """The 80/20 check in words."""
    return (
        f"80/20: the top 20% of {pyramid.ranked:,} ranked customers hold "
        f"{_percent(pyramid.pareto_share)} of the value ({pyramid.customers:,} customers "
        "with a tier)"
    )

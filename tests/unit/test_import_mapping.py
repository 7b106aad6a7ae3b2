"""Rows -> touchpoint events for `touchpoint import`: conversions, bad fields named,
deterministic ids, time zones. No broker: records are validated with the codec."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest

from schemas import EVENT_TYPES, decode_obj
from schemas.codec import seal_input
from streams.import_fields import TYPE_NAMES, ImportOptions, MappingError, importable_fields
from streams.import_mapping import Mapped, RowMapping, plan
from streams.import_values import parse_bool, parse_int, parse_time, to_minor_units
from tests.builders import a_sealer

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
COLUMNS = ["cust", "when", "spend"]


def purchases(columns: Sequence[str] = COLUMNS, **changes: Any) -> RowMapping:
    fields = ("customer_id", "occurred_at", "amount_minor")
    options: dict[str, Any] = {
        "event_type": "purchase_completed",
        "columns": dict(zip(fields, columns, strict=True)),
        "values": {"currency": "EUR"},
        **changes,
    }
    return plan(ImportOptions(**options), columns, NOW)


def fields_of(mapped: Mapped) -> dict[str, str]:
    return {error.field: error.reason for error in mapped.errors}


# -- values ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "currency", "unit", "minor"),
    [
        ("12.50", "EUR", "major", 1250),
        ("12.5", "EUR", "major", 1250),
        ("12", "EUR", "major", 1200),
        ("1200", "JPY", "major", 1200),  # yen have no minor unit
        ("1.234", "KWD", "major", 1234),  # dinars have three decimals
        ("0", "EUR", "major", 0),
        ("1250", "EUR", "minor", 1250),
        ("1250.0", "EUR", "minor", 1250),
    ],
)
def test_amounts_become_minor_units_by_the_currency_exponent(
    text: str, currency: str, unit: Any, minor: int
) -> None:
    assert to_minor_units(text, currency, unit) == minor


@pytest.mark.parametrize(
    ("text", "currency", "unit", "reason"),
    [
        ("12.345", "EUR", "major", "12.345 has more decimals than EUR (2)"),
        ("12.5", "JPY", "major", "12.5 has more decimals than JPY (0)"),
        ("12.5", "EUR", "minor", "not a whole number (got '12.5')"),
        ("-1", "EUR", "major", "must not be negative (got '-1')"),
        ("abc", "EUR", "major", "not a decimal number (got 'abc')"),
        ("1,50", "EUR", "major", "not a decimal number (got '1,50')"),
        ("NaN", "EUR", "major", "not a decimal number (got 'NaN')"),
        ("1_000", "EUR", "major", "not a decimal number (got '1_000')"),
        ("1e40", "EUR", "major", "too large (got '1e40')"),
    ],
)
def test_bad_amounts_are_refused_never_rounded(
    text: str, currency: str, unit: Any, reason: str
) -> None:
    with pytest.raises(ValueError) as refused:
        to_minor_units(text, currency, unit)
    assert str(refused.value) == reason


def test_integers_and_booleans() -> None:
    assert [parse_int(t) for t in ("12", "-3", "12.0")] == [12, -3, 12]
    assert [parse_bool(t) for t in ("true", "Yes", "1", "F", "no", "0")] == [1, 1, 1, 0, 0, 0]
    with pytest.raises(ValueError, match="not a boolean"):
        parse_bool("maybe")


# -- time zones ---------------------------------------------------------------

BERLIN = plan(
    ImportOptions("visit_recorded", timezone="Europe/Berlin"),
    ["customer_id", "occurred_at", "page"],
    NOW,
)


def occurred(mapping: RowMapping, text: str) -> datetime:
    mapped = mapping.map(["C1", text, "/"], 0)
    assert not mapped.errors, mapped.errors
    value = mapped.record["occurred_at"]
    assert isinstance(value, datetime)
    return value


def test_naive_times_are_wall_clock_time_in_the_given_zone() -> None:
    winter, summer = occurred(BERLIN, "2025-01-10 09:30"), occurred(BERLIN, "2025-07-10T09:30:00")
    assert winter.utcoffset() == timedelta(hours=1)
    assert winter.astimezone(UTC) == datetime(2025, 1, 10, 8, 30, tzinfo=UTC)
    assert summer.astimezone(UTC) == datetime(2025, 7, 10, 7, 30, tzinfo=UTC)


def test_a_date_is_its_midnight_in_the_zone_and_utc_is_the_default() -> None:
    assert occurred(BERLIN, "2025-03-01").astimezone(UTC) == datetime(2025, 2, 28, 23, tzinfo=UTC)
    utc = plan(ImportOptions("visit_recorded"), ["customer_id", "occurred_at", "page"], NOW)
    assert occurred(utc, "2025-03-01") == datetime(2025, 3, 1, tzinfo=UTC)


def test_times_with_an_offset_keep_it_whatever_the_zone() -> None:
    kept = occurred(BERLIN, "2025-03-01T10:00:00-05:00")
    assert kept.utcoffset() == timedelta(hours=-5)
    assert occurred(BERLIN, "2025-03-01T10:00:00Z") == datetime(2025, 3, 1, 10, tzinfo=UTC)


def test_a_time_skipped_by_daylight_saving_is_refused_and_a_repeated_one_is_the_first() -> None:
    skipped = BERLIN.map(["C1", "2025-03-30 02:30", "/"], 0)
    assert "does not exist in Europe/Berlin" in fields_of(skipped)["occurred_at"]
    twice = occurred(BERLIN, "2025-10-26 02:30")  # 02:30 CEST, then 02:30 CET
    assert twice.astimezone(UTC) == datetime(2025, 10, 26, 0, 30, tzinfo=UTC)


def test_a_time_format_reads_other_layouts() -> None:
    mapping = plan(
        ImportOptions("visit_recorded", time_format="%d/%m/%Y %H:%M"),
        ["customer_id", "occurred_at", "page"],
        NOW,
    )
    assert occurred(mapping, "01/03/2025 10:15") == datetime(2025, 3, 1, 10, 15, tzinfo=UTC)
    bad = mapping.map(["C1", "2025-03-01", "/"], 0)
    assert fields_of(bad) == {"occurred_at": "not format '%d/%m/%Y %H:%M' (got '2025-03-01')"}


def test_parse_time_names_what_it_expected() -> None:
    with pytest.raises(ValueError, match="not an ISO 8601 date or date-time"):
        parse_time("yesterday", UTC)
    assert parse_time("2025-03-01T10:00+02:00", UTC).tzinfo == timezone(timedelta(hours=2))


def test_an_unknown_zone_is_refused_before_any_row() -> None:
    with pytest.raises(MappingError, match="unknown time zone 'Mars/Olympus'"):
        purchases(timezone="Mars/Olympus")


# -- rows -> records ------------------------------------------------------------


def test_a_row_becomes_a_valid_purchase_with_the_defaults_stated() -> None:
    mapping = purchases()
    mapped = mapping.map(["C1", "2025-03-01T10:00:00+01:00", "45.99"], 0)
    event = decode_obj(mapped.record)
    assert event.customer_id == "C1" and event.event_type == "purchase_completed"
    assert event.occurred_at == datetime(2025, 3, 1, 9, tzinfo=UTC)
    assert event.recorded_at == NOW
    assert (event.amount_minor, event.currency) == (4599, "EUR")  # type: ignore[union-attr]
    assert (event.channel, event.source) == ("other", "import")
    assert event.order_id == str(event.event_id)  # type: ignore[union-attr]
    assert "order_id = the event id (no --order-col)" in mapping.describe()
    assert "amount_minor <- column 'spend' (major units)" in mapping.describe()


def test_columns_named_like_fields_map_themselves_and_amount_minor_is_minor_units() -> None:
    columns = ["customer_id", "occurred_at", "amount_minor", "currency", "order_id", "channel"]
    mapping = plan(ImportOptions("purchase_completed"), columns, NOW)
    record = mapping.map(["C1", "2025-03-01", "4599", "CNY", "A-1", "web"], 0).record
    assert record["amount_minor"] == 4599 and record["order_id"] == "A-1"
    assert (record["currency"], record["channel"]) == ("CNY", "web")
    ignored = plan(ImportOptions("purchase_completed", columns={"channel": ""}), columns, NOW)
    assert ignored.map(["C1", "2025-03-01", "1", "CNY", "A-1", "web"], 0).record["channel"] == (
        "other"
    )


def test_every_bad_cell_is_named_by_its_field() -> None:
    mapped = purchases().map(["C1", "soon", "12.345"], 0)
    assert fields_of(mapped) == {
        "occurred_at": "not an ISO 8601 date or date-time (got 'soon')",
        "amount_minor": "12.345 has more decimals than EUR (2)",
    }
    assert purchases().columns_of == {
        "customer_id": "cust",
        "occurred_at": "when",
        "amount_minor": "spend",
    }


def test_an_empty_cell_is_a_missing_value_and_the_schema_names_it() -> None:
    mapped = purchases().map(["  ", "2025-03-01", "1"], 0)
    assert "customer_id" not in mapped.record and not mapped.errors
    with pytest.raises(ValueError, match="customer_id: Field required"):
        decode_obj(mapped.record)


def test_compensation_is_filled_from_the_amount_and_currency() -> None:
    columns = ["customer_id", "occurred_at", "complaint_id", "refund", "accepted"]
    mapping = plan(
        ImportOptions(
            "complaint_resolved",
            columns={"amount_minor": "refund"},
            values={"currency": "JPY", "resolution": "refund"},
        ),
        columns,
        NOW,
    )
    mapped = mapping.map(["C1", "2025-03-01", "K-1", "1500", "yes"], 0)
    event = decode_obj(mapped.record)
    assert event.compensation is not None  # type: ignore[union-attr]
    assert (event.compensation.amount_minor, event.accepted) == (1500, True)  # type: ignore[union-attr]
    without = decode_obj(mapping.map(["C1", "2025-03-01", "K-1", "", "no"], 0).record)
    assert without.compensation is None  # type: ignore[union-attr]
    bad = mapping.map(["C1", "2025-03-01", "K-1", "1.5", "perhaps"], 0)
    assert set(fields_of(bad)) == {"compensation.amount_minor", "accepted"}
    assert mapping.columns_of["compensation.amount_minor"] == "refund"


# -- options checked before any row -----------------------------------------------------


@pytest.mark.parametrize(
    ("options", "columns", "message"),
    [
        (ImportOptions("purchase_completed", columns={"amount": "x"}), ["x"],
         "purchase_completed has no field 'amount' to import"),
        (ImportOptions("purchase_completed", columns={"customer_id": "id"}), ["cust"],
         "no column 'id' in the file; its columns: cust"),
        (ImportOptions("purchase_completed", columns={"currency": "c"}, values={"currency": "EUR"}),
         ["c"], "currency: given both a column and a value"),
        (ImportOptions("purchase_completed", values={"currency": "EUR"}),
         ["customer_id", "occurred_at"], "needs amount_minor (--amount-col COLUMN)"),
        (ImportOptions("call_handled"), ["customer_id", "occurred_at", "reason"],
         "call_handled needs direction, duration_seconds, outcome"),
        (ImportOptions("survey_answered"), ["customer_id", "occurred_at", "score"],
         "survey_answered needs scale_min, scale_max"),
        (ImportOptions("visit_recorded"), ["customer_id", "occurred_at"],
         "visit_recorded needs location (--col location=COLUMN, or --col page=COLUMN"),
        (ImportOptions("complaint_resolved", values={"currency": "EUR", "resolution": "r"}),
         ["customer_id", "occurred_at", "complaint_id"], "needs amount_minor"),
        (ImportOptions("purchase_completed", values={"currency": "EUR", "channel": "pigeon"}),
         ["customer_id", "occurred_at", "amount"], "channel='pigeon': Input should be 'store'"),
        (ImportOptions("purchase_completed", values={"currency": "eur"}),
         ["customer_id", "occurred_at", "amount"], "currency='eur': String should match pattern"),
        (ImportOptions("call_handled", values={"duration_seconds": "long", "direction": "inbound",
                                               "reason": "billing", "outcome": "resolved"}),
         ["customer_id", "occurred_at"], "duration_seconds='long': not a whole number"),
    ],
)  # fmt: skip
def test_options_that_do_not_fit_stop_the_import_naming_what_to_give(
    options: ImportOptions, columns: list[str], message: str
) -> None:
    with pytest.raises(MappingError, match=message.replace("(", r"\(").replace(")", r"\)")):
        plan(options, columns, NOW)


MINIMAL: dict[str, dict[str, str]] = {
    "purchase_completed": {"amount": "10.00", "currency": "EUR"},
    "visit_recorded": {"page": "/shoes"},
    "call_handled": {"direction": "inbound", "reason": "billing", "duration_seconds": "60",
                     "outcome": "resolved"},
    "complaint_filed": {"complaint_id": "K-1", "category": "delay", "severity": "high",
                        "promised_by": "2025-03-05"},
    "complaint_resolved": {"complaint_id": "K-1", "resolution": "refund"},
    "survey_answered": {"score": "4", "scale_min": "1", "scale_max": "5", "comment": "lovely"},
    "referral_made": {"referred_customer_id": "C2"},
    "customer_registered": {"email": "a@example.com", "region": "berlin"},
    "identity_linked": {"identifier_kind": "email", "identifier": "a@example.com"},
}  # fmt: skip


@pytest.mark.parametrize("event_type", sorted(set(TYPE_NAMES.values())))
def test_every_type_imports_from_columns_named_like_its_fields(event_type: str) -> None:
    row = {"customer_id": "C1", "occurred_at": "2025-03-01T10:00:00", **MINIMAL[event_type]}
    mapping = plan(ImportOptions(event_type), list(row), NOW)
    mapped = mapping.map(list(row.values()), 0)
    assert not mapped.errors
    event = decode_obj(seal_input(mapped.record, a_sealer()))  # personal data sealed
    assert event.event_type == event_type
    assert set(importable_fields(event_type)) <= set(EVENT_TYPES[event_type].model_fields) | {
        "amount_minor",
        "currency",
    }


# -- deterministic event ids ---------------------------------------------------------


def test_the_same_row_gets_the_same_id_in_every_import() -> None:
    row = ["C1", "2025-03-01", "12.50"]
    later = plan(purchases_options(), COLUMNS, NOW + timedelta(days=30))
    assert purchases().map(row, 0).record["event_id"] == later.map(row, 0).record["event_id"]
    renamed = purchases(columns=["customer", "date", "amount"])  # headers renamed, same mapping
    assert renamed.event_id(row, 0) == purchases().event_id(row, 0)


def purchases_options() -> ImportOptions:
    return ImportOptions(
        "purchase_completed",
        columns={"customer_id": "cust", "occurred_at": "when", "amount_minor": "spend"},
        values={"currency": "EUR"},
    )


def test_identical_rows_differ_by_their_ordinal_and_every_cell_as_written_counts() -> None:
    mapping = purchases()
    ids = {
        mapping.event_id(["C1", "2025-03-01", "12.50"], 0),
        mapping.event_id(["C1", "2025-03-01", "12.50"], 1),  # the same row again: a 2nd purchase
        mapping.event_id(["C1", "2025-03-01", "12.5"], 0),  # written differently: another row
        mapping.event_id(["C2", "2025-03-01", "12.50"], 0),
    }
    assert len(ids) == 4 and all(isinstance(i, UUID) and i.version == 5 for i in ids)


@pytest.mark.parametrize(
    "changes",
    [{"timezone": "Europe/Berlin"}, {"values": {"currency": "USD"}}, {"amount_unit": "minor"},
     {"values": {"currency": "EUR", "source": "legacy-pos"}}],
)  # fmt: skip
def test_options_that_change_the_event_change_the_id(changes: dict[str, Any]) -> None:
    row = ["C1", "2025-03-01", "1250"]
    assert purchases(**changes).event_id(row, 0) != purchases().event_id(row, 0)


def test_personal_data_is_not_part_of_the_id() -> None:
    columns = ["customer_id", "occurred_at", "score", "comment"]
    options = ImportOptions("survey_answered", values={"scale_min": "0", "scale_max": "10"})
    mapping = plan(options, columns, NOW)
    assert mapping.has_pii and mapping.identity_columns == ("customer_id", "occurred_at", "score")
    first = mapping.event_id(["C1", "2025-03-01", "9", "great, call me on 0151 234"], 0)
    assert first == mapping.event_id(["C1", "2025-03-01", "9", "something else"], 0)

"""``/customers``: 360° by id or alias, listing with filters, search, sorting and pages."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.read_models import ALICE_EMAIL, ALICE_PHONE


def ids(body: dict[str, Any]) -> list[str]:
    return [item["customer_id"] for item in body["items"]]


def test_a_customer_360_has_stage_tier_clv_warnings_and_timeline(client: TestClient) -> None:
    response = client.get("/customers/C1")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["requested_id"], body["customer_id"], body["alias_path"]) == ("C1", "C1", [])
    assert body["loyalty"]["stage"] == "repeat_buyer"
    assert [c["to_stage"] for c in body["stage_changes"]] == [
        "repeat_buyer",
        "first_time_buyer",
        "prospect",
    ]  # newest first
    assert body["value"] == {"tier": "key", "value_minor": 3000, "rank": None, "population": 10}
    assert body["clv"]["clv_minor"] == 4200.0 and body["clv"]["currency"] == "EUR"
    assert [w["warning_id"] for w in body["warnings"]] == ["W1", "W2"]  # by priority
    assert body["warnings"][0]["priority"] == pytest.approx(0.9 * 3)  # key tier weighs 3
    assert [k["complaint_id"] for k in body["open_complaints"]] == ["K1"]
    assert body["timeline"][0]["event_type"] == "complaint_filed"  # newest first
    assert body["figures"]["purchase_count"] == 3
    assert body["figures"]["total_spend_minor"] == 3000
    assert body["merged_ids"] == ["C3"]
    assert body["view"]["identifiers"]["email"]  # fingerprints only
    assert ALICE_EMAIL not in response.text


def test_an_alias_leads_to_its_customer_and_says_how(client: TestClient) -> None:
    body = client.get("/customers/C3").json()
    assert (body["requested_id"], body["customer_id"]) == ("C3", "C1")
    assert [step["canonical_id"] for step in body["alias_path"]] == ["C1"]
    assert body["loyalty"]["stage"] == "repeat_buyer"


def test_a_customer_without_stage_tier_or_scores(client: TestClient) -> None:
    body = client.get("/customers/C5").json()
    assert body["loyalty"]["stage"] == "prospect"
    assert (body["value"], body["clv"], body["warnings"]) == (None, None, [])


def test_an_unknown_customer_is_404_with_a_reason(client: TestClient) -> None:
    response = client.get("/customers/C404")
    assert response.status_code == 404
    assert response.json() == {
        "detail": "no customer C404 in the read model (neither a customer id nor an alias)"
    }


@pytest.mark.parametrize("bad", ["-C1", "C 1", "x" * 65, "C1%00", "é"])
def test_a_malformed_customer_id_is_422_naming_the_parameter(client: TestClient, bad: str) -> None:
    response = client.get(f"/customers/{bad}")
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["path", "customer_id"]


def test_a_customers_warning_history_has_cleared_ones_with_their_events(
    client: TestClient,
) -> None:
    body = client.get("/customers/C4/warnings").json()
    assert [(w["warning_id"], w["status"]) for w in body["warnings"]] == [("W4", "cleared")]
    assert [e["kind"] for e in body["warnings"][0]["events"]] == ["raised", "cleared"]
    assert body["warnings"][0]["cleared_because"] == "purchase"
    via_alias = client.get("/customers/C3/warnings").json()
    assert via_alias["customer_id"] == "C1"
    assert [w["warning_id"] for w in via_alias["warnings"]] == ["W2", "W1"]  # newest first


def test_the_list_pages_through_every_customer(client: TestClient) -> None:
    first = client.get("/customers", params={"limit": 3}).json()
    assert (first["total"], first["limit"], first["offset"], first["next_offset"]) == (4, 3, 0, 3)
    assert ids(first) == ["C1", "C2", "C4"]
    last = client.get("/customers", params={"limit": 3, "offset": 3}).json()
    assert (ids(last), last["next_offset"]) == (["C5"], None)
    beyond = client.get("/customers", params={"offset": 10}).json()
    assert (beyond["items"], beyond["total"], beyond["next_offset"]) == ([], 4, None)


@pytest.mark.parametrize(
    ("sort", "order", "expected"),
    [
        ("customer_id", "desc", ["C5", "C4", "C2", "C1"]),
        ("total_spend", "desc", ["C4", "C1", "C2", "C5"]),
        ("clv", "desc", ["C4", "C1", "C2", "C5"]),  # missing values last, in both orders
        ("clv", "asc", ["C1", "C4", "C2", "C5"]),
        ("priority", "desc", ["C1", "C2", "C4", "C5"]),
        ("last_seen", "asc", ["C5", "C2", "C1", "C4"]),
    ],
)
def test_the_list_sorts(client: TestClient, sort: str, order: str, expected: list[str]) -> None:
    response = client.get("/customers", params={"sort": sort, "order": order})
    assert response.status_code == 200, response.text
    assert ids(response.json()) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"stage": "loyal"}, ["C4"]),
        ({"tier": "key"}, ["C1"]),
        ({"reason": "overdue_purchase"}, ["C1", "C2"]),
        ({"reason": "complaint_overdue", "tier": "small"}, []),
        ({"email": ALICE_EMAIL}, ["C1"]),
        ({"email": "  ALICE@Example.COM "}, ["C1"]),  # normalized before fingerprinting
        ({"phone": ALICE_PHONE.replace(" ", "")}, ["C1"]),
        ({"email": "nobody@example.com"}, []),
    ],
)
def test_the_list_filters_and_searches(
    client: TestClient, params: dict[str, str], expected: list[str]
) -> None:
    response = client.get("/customers", params=params)
    assert response.status_code == 200, response.text
    assert ids(response.json()) == expected


def test_list_items_carry_stage_tier_value_and_warnings(client: TestClient) -> None:
    (item,) = client.get("/customers", params={"tier": "key"}).json()["items"]
    assert item["stage"] == "repeat_buyer" and item["value_minor"] == 3000
    assert item["open_warnings"] == 2
    assert item["warning_reasons"] == ["complaint_overdue", "low_satisfaction", "overdue_purchase"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 10**12}, "offset"),
        ({"sort": "shoe_size"}, "sort"),
        ({"order": "up"}, "order"),
        ({"stage": "champion"}, "stage"),
        ({"tier": "gold"}, "tier"),
        ({"reason": "bad_vibes"}, "reason"),
        ({"email": "not-an-email"}, "email"),
        ({"phone": "call me"}, "phone"),
    ],
)
def test_bad_list_parameters_are_422_naming_the_parameter(
    client: TestClient, params: dict[str, Any], field: str
) -> None:
    response = client.get("/customers", params=params)
    assert response.status_code == 422, response.text
    assert [error["loc"] for error in response.json()["detail"]] == [["query", field]]

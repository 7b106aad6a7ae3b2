"""Draw docs/dashboard.png from a real read model (e.g. the demo's), as a manager sees it.

    .venv/bin/python -m tests.e2e.dashboard_screenshot touchpoint.duckdb docs/dashboard.png [ID]

Serves the read model with `touchpoint serve` (the environment's settings, a throwaway key),
opens the dashboard in headless Chromium, opens customer ID (default: the customer of the
most urgent open warning, else the biggest spender) and saves a full-page screenshot.
"""

from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from projections import churn_queries, queries
from streams.settings import load_settings
from tests.e2e.dashboard import chromium, missing_browser, serving

PICK = "SELECT customer_id FROM customer_view ORDER BY total_spend_minor DESC LIMIT 1"


def pick_customer(db: Path) -> str:
    with queries.open_read_model(db) as conn:
        urgent = churn_queries.open_warnings(conn, limit=1).items
        if urgent:
            return urgent[0].customer_id
        rows = queries.run_query(conn, PICK).rows
        return str(rows[0][0])


def main(db: Path, out: Path, customer: str | None) -> None:
    problem = missing_browser()
    if problem:
        raise SystemExit(problem)
    customer = customer or pick_customer(db)
    key = secrets.token_urlsafe(16)
    pepper = load_settings().pii_pepper.get_secret_value()
    with serving(db, key, pepper) as url, chromium(1400, 1400) as browser:
        browser.get(f"{url}#key={key}")
        WebDriverWait(browser, 30).until(
            lambda b: b.find_elements(By.CSS_SELECTOR, "#funnel-chart svg")
        )
        browser.find_element(By.ID, "search-input").send_keys(customer)
        browser.find_element(By.ID, "search-button").click()
        WebDriverWait(browser, 30).until(lambda b: b.find_elements(By.ID, "customer-stage"))
        time.sleep(0.5)  # let the last panels draw
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(1400, int(height) + 40)
        browser.execute_script("window.scrollTo(0, 0)")
        time.sleep(0.3)
        browser.save_screenshot(str(out))
    print(f"wrote {out} (customer {customer})")


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) not in (2, 3):
        raise SystemExit(__doc__)
    main(Path(args[0]), Path(args[1]), args[2] if len(args) == 3 else None)

"""The dashboard in a real browser: `touchpoint serve` as a user starts it, Debian's headless
Chromium driven by Selenium. A manager opens the dashboard, searches a customer and sees
its loyalty stage; when the materializer publishes a new snapshot, the page follows.

Without chromium this FAILS (it does not skip): CI must install it (`make browser`).
Set TOUCHPOINT_SCREENSHOT=FILE.png to keep a screenshot of the page.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from projections.snapshots import copy_atomically
from tests.builders import TEST_PEPPER
from tests.e2e.dashboard import chromium, missing_browser, serving
from tests.read_models import ALICE_EMAIL, a_known_read_model

KEY = "browser-test-key-0123"
WAIT = 20  # seconds: the page polls every 3 s


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return a_known_read_model(tmp_path_factory.mktemp("dashboard") / "touchpoint.duckdb")


@pytest.fixture(scope="module")
def url(db: Path) -> Iterator[str]:
    with serving(db, KEY, TEST_PEPPER.decode()) as address:
        yield address


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    problem = missing_browser()
    if problem:
        pytest.fail(problem)
    with chromium() as driver:
        yield driver


def text_of(browser: WebDriver, element_id: str) -> str:
    """The element's text, read in one step (the page redraws while we look)."""
    text = browser.execute_script(
        "const found = document.getElementById(arguments[0]); return found ? found.innerText : '';",
        element_id,
    )
    return str(text)


def wait_for_text(browser: WebDriver, element_id: str, expected: str) -> None:
    WebDriverWait(browser, WAIT).until(
        lambda b: text_of(b, element_id) == expected,
        f"#{element_id} never showed {expected!r} (it shows {text_of(browser, element_id)!r})",
    )


def search(browser: WebDriver, text: str) -> None:
    box = browser.find_element(By.ID, "search-input")
    box.clear()
    box.send_keys(text)
    browser.find_element(By.ID, "search-button").click()


def test_a_manager_finds_a_customer_and_sees_the_stage_change_live(
    browser: WebDriver, url: str, db: Path
) -> None:
    browser.get(f"{url}#key={KEY}")
    WebDriverWait(browser, WAIT).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, "#funnel-chart svg"), "the funnel never drew"
    )
    assert "#key=" not in browser.current_url  # the key is kept, not left in the address bar
    for name in ("#pyramid-chart svg", "#repurchase-chart svg", "#warnings-body tr"):
        assert browser.find_elements(By.CSS_SELECTOR, name), name

    search(browser, "C3")  # an id merged into C1
    wait_for_text(browser, "customer-stage", "repeat buyer")
    assert text_of(browser, "customer-id") == "C1"
    assert "C3 was merged into C1" in text_of(browser, "customer")

    search(browser, "C4")
    wait_for_text(browser, "customer-stage", "loyal")
    search(browser, ALICE_EMAIL.upper())  # by e-mail: matched by fingerprint
    wait_for_text(browser, "customer-id", "C1")
    wait_for_text(browser, "customer-stage", "repeat buyer")

    # The materializer publishes a new snapshot in which C1 has become loyal.
    draft = db.with_name("next.duckdb")
    shutil.copyfile(db, draft)
    with duckdb.connect(str(draft)) as conn:
        conn.execute("UPDATE loyalty_stage SET stage = 'loyal' WHERE customer_id = 'C1'")
    copy_atomically(draft, db)
    wait_for_text(browser, "customer-stage", "loyal")

    if shot := os.environ.get("TOUCHPOINT_SCREENSHOT"):
        browser.execute_script("window.scrollTo(0, 0)")
        browser.save_screenshot(shot)


def test_without_a_key_the_dashboard_asks_for_one(browser: WebDriver, url: str) -> None:
    browser.get(url)
    WebDriverWait(browser, WAIT).until(lambda b: b.find_element(By.ID, "key-panel").is_displayed())
    box = browser.find_element(By.ID, "key-input")
    box.send_keys("not-the-key-at-all")
    box.submit()
    WebDriverWait(browser, WAIT).until(lambda b: "invalid API key" in text_of(b, "key-error"))
    box = browser.find_element(By.ID, "key-input")
    box.send_keys(KEY)
    box.submit()
    WebDriverWait(browser, WAIT).until(
        lambda b: b.find_element(By.ID, "main").is_displayed(), "the key was not accepted"
    )

"""Helpers to drive the dashboard as a person would: ``touchpoint serve`` in a subprocess and
Debian's headless Chromium through Selenium.

Chromium and its driver come from Debian (``make browser``: apt-get install chromium
chromium-driver); the driver path is given to Selenium explicitly, so Selenium Manager never
tries to download a browser or a driver (there is no network for that here).

May import: selenium, streams (settings only), tests, stdlib.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL_HINT = (
    "the dashboard's browser test needs Debian's chromium and chromium-driver at "
    f"{CHROMIUM} and {CHROMEDRIVER}: run `make browser` (apt-get install chromium "
    "chromium-driver)"
)
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # root in CI containers
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",  # no update checks, no phoning home
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def missing_browser() -> str | None:
    """Why the browser cannot run here, or None when it can."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return None
    return INSTALL_HINT


@contextmanager
def chromium(width: int = 1400, height: int = 1800) -> Iterator[WebDriver]:
    """Headless Chromium with a private, throwaway profile."""
    with tempfile.TemporaryDirectory(prefix="touchpoint-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
        ):
            options.add_argument(flag)
        driver = webdriver.Chrome(
            service=Service(executable_path=str(CHROMEDRIVER)), options=options
        )
        try:
            yield driver
        finally:
            driver.quit()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(db: Path, key: str, pepper: str, timeout: float = 30) -> Iterator[str]:
    """``touchpoint serve`` on ``db`` on a free local port, as a user starts it; its URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHPOINT_")}
    env.update(TOUCHPOINT_API_KEYS=key, TOUCHPOINT_PII_PEPPER=pepper, TOUCHPOINT_DB=str(db))
    server = subprocess.Popen(
        [sys.executable, "-m", "streams", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_healthy(server, url, timeout)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_until_healthy(server: subprocess.Popen[str], url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            output = server.stdout.read() if server.stdout else ""
            raise RuntimeError(f"touchpoint serve exited with {server.returncode}:\n{output}")
        try:
            with urllib.request.urlopen(url + "health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"touchpoint serve did not answer at {url}health within {timeout} s")

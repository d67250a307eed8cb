"""GraphiQL in a real headless Chromium, proving it works without internet.

Needs Debian's ``chromium`` and ``chromium-driver`` packages and the
``live_server`` fixture (base URL of a uvicorn server running the app with
demo data). Missing browser binaries skip the test locally but fail it on CI
(``CI=true``), so CI can never pass by silently skipping it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.command import Command
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# FeaturedDepartment is a homepage card; the department name sits on its `department`.
QUERY = "{ homepage { featuredDepartments { department { name } } } }"
TIMEOUT_SECONDS = 30

# Flags keep Chromium itself quiet so only the page's own traffic happens.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)

# Only these schemes reach the network; data:, blob: and chrome:// never do.
NETWORK_SCHEMES = frozenset({"http", "https", "ws", "wss"})
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

pytestmark = pytest.mark.browser


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    """Headless Chromium with a fresh profile and network logging enabled."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    if missing:
        message = f"browser test needs {' and '.join(missing)}: apt-get install -y chromium chromium-driver"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    # Performance log = DevTools Network events, including requests that failed
    # (e.g. a blocked CDN), which window.performance would not list.
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})

    # An explicit driver path means Selenium Manager never runs (no downloads).
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _log(driver: webdriver.Chrome, kind: str) -> list[dict[str, Any]]:
    """``driver.get_log(kind)``, typed (selenium leaves get_log unannotated)."""
    entries: list[dict[str, Any]] = driver.execute(Command.GET_LOG, {"type": kind})["value"]
    return entries


def _requested_urls(driver: webdriver.Chrome) -> list[str]:
    """Every URL the page requested or opened a WebSocket to, from the performance log."""
    urls: list[str] = []
    for entry in _log(driver, "performance"):
        message: dict[str, Any] = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
        elif message.get("method") == "Network.webSocketCreated":
            urls.append(message["params"]["url"])
    return urls


def _editor_value(driver: webdriver.Chrome, selector: str) -> str:
    """Full text of a GraphiQL (CodeMirror 5) editor; the DOM only renders visible lines."""
    value = driver.execute_script(
        "const el = document.querySelector(arguments[0]);return el && el.CodeMirror ? el.CodeMirror.getValue() : '';",
        selector,
    )
    return str(value)


def _wait(driver: webdriver.Chrome, condition: Any, what: str) -> Any:
    """WebDriverWait that reports the console (e.g. SRI errors) and result pane on timeout."""
    try:
        return WebDriverWait(driver, TIMEOUT_SECONDS).until(condition)
    except TimeoutException:
        pass  # fail below, outside the except block, to keep chromedriver's stack out of the report
    console = "\n".join(entry["message"] for entry in _log(driver, "browser"))
    result = _editor_value(driver, ".graphiql-response .CodeMirror")
    pytest.fail(
        f"timed out waiting for {what}\nbrowser console:\n{console or '(empty)'}\nresult pane:\n{result or '(empty)'}"
    )


def test_graphiql_runs_query_offline(live_server: str, browser: webdriver.Chrome) -> None:
    # Drop what Chromium logged for its start page, so only our page is checked.
    _log(browser, "performance")
    # The page reads its initial query from ?q= (see strawberry's graphiql.html).
    browser.get(f"{live_server}/graphql?q={quote(QUERY, safe='')}")

    _wait(
        browser,
        ec.presence_of_element_located((By.CSS_SELECTOR, ".graphiql-query-editor .CodeMirror")),
        "the GraphiQL query editor",
    )
    assert _editor_value(browser, ".graphiql-query-editor .CodeMirror").strip() == QUERY

    _wait(
        browser,
        ec.element_to_be_clickable((By.CSS_SELECTOR, ".graphiql-execute-button")),
        "the run button",
    ).click()
    _wait(
        browser,
        lambda d: "featuredDepartments" in _editor_value(d, ".graphiql-response .CodeMirror"),
        "the query result",
    )

    result = json.loads(_editor_value(browser, ".graphiql-response .CodeMirror"))
    assert "errors" not in result, result
    cards = result["data"]["homepage"]["featuredDepartments"]
    assert cards, "demo data should feature at least one department"
    names = [card["department"]["name"] for card in cards]
    assert all(isinstance(name, str) and name for name in names), cards

    urls = _requested_urls(browser)
    local_hosts = LOOPBACK_HOSTS | {urlsplit(live_server).hostname}
    external = [
        url for url in urls if urlsplit(url).scheme in NETWORK_SCHEMES and urlsplit(url).hostname not in local_hosts
    ]
    assert not external, f"GraphiQL contacted non-local hosts: {external}"
    # Positive check too, so an empty log cannot make the test pass vacuously.
    assert any(f"{live_server}/graphiql-assets/graphiql@" in url for url in urls), urls

"""The console in a real browser: headless Chromium (Debian's chromium and chromium-driver, driven by selenium
through /usr/bin/chromedriver: nothing is downloaded) against the app served by a real gunicorn, while the
terminal simulator (devices/) posts meals over HTTP.

One gunicorn and one browser for the whole walk: sign in (the development page, and a pasted token), watch the
school view's count change as meals arrive, open a reconciliation and download each export, drill down to an
entry and verify its proof, check the ledger, and leave feedback in the parent preview at 360 px. Every page
is saved as a PNG in test-artifacts/screenshots/ (CI keeps the folder for review).

Without a browser the test is skipped with the reason, except in CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.console.browser import Walk
from tests.factories import TerminalKey, batch, meal_event
from tests.live_server import REPO, WALLET_TERMINAL, enrollment_code, start_server  # noqa: F401
from tests.parent_factories import PARENT_IIN, link

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SHOTS = REPO / "test-artifacts" / "screenshots"


def _browser_missing() -> str | None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package (pip install -e '.[dev]')")
    return ", ".join(missing) or None


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    missing = _browser_missing()
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI needs the browser for the console tests; missing: {missing} (see .ci/browser)")
        pytest.skip(f"no headless browser here ({missing}); `make browser` installs chromium and chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                "--disable-gpu", "--no-first-run", "--lang=en"):
        options.add_argument(arg)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False,
                                              "intl.accept_languages": "en"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.downloads = downloads  # type: ignore[attr-defined]
    try:
        yield driver
    finally:
        driver.quit()


def _served_meal(server_url: str, key: TerminalKey, student: Any, seq: int) -> int | None:
    """A billable meal of this child today (the simulator may already have served some of its meal types)."""
    events = [meal_event(student, seq + n, meal_type=m) for n, m in enumerate(("breakfast", "lunch", "snack"))]
    response = requests.post(f"{server_url}/api/v1/terminal/events", json=batch(*events), headers=key.headers(),
                             timeout=10)
    assert response.status_code == 200, response.text
    served = [r["entryId"] for r in response.json()["results"] if r.get("verdict") == "billable"]
    return int(served[0]) if served else None


def test_console_in_a_browser(browser, start_server, session_factory, world, settings, database_url,  # noqa: F811
                              tmp_path):
    from selenium.webdriver.support.ui import Select

    from api.auth import dev_idp

    with session_factory() as session:
        link(session, PARENT_IIN, world.eligible[0])
        key = TerminalKey("T-browser-1")
        key.register(session, world.school)
    server = start_server(env={"WALLET_RATE_LIMITS": "off"})
    walk = Walk(browser, server.url, "sqlite" if database_url.startswith("sqlite") else "postgresql", SHOTS)

    # --- sign in on the development page as the school's administrator -----------------------------------------
    walk.open("/console/sign-in")
    assert walk.lang() == "en"
    walk.shot("sign-in")
    walk.click("a[href^='/console/dev-sign-in']")
    walk.at("/console/dev-sign-in", "the development sign-in")
    walk.click("input[name=role][value=school_admin]")
    Select(walk.css("#school")).select_by_value(world.school.bin)
    walk.shot("dev-sign-in")
    walk.click("form.card button[type=submit]")
    walk.at(f"/console/schools/{world.school.bin}", "the school view")
    cookie = browser.get_cookie("wallet_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    # --- the school view while the simulator posts meals: the count changes without a reload -------------------
    before = int(walk.text("#live-total"))
    walk.shot("school-before")
    code = enrollment_code(session_factory, world.school.bin)
    simulator = subprocess.Popen(
        [WALLET_TERMINAL, "--data-dir", str(tmp_path / "sim"), "simulate", "--server", server.url, "--code", code,
         "--meals-per-minute", "240", "--duration", "15", "--seed", "7"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        walk.script("window.__notReloaded = true")
        walk.wait(lambda d: int(walk.text("#live-total")) > before, "the live count did not change")
        assert walk.script("return window.__notReloaded") is True  # updated in place
        walk.wait(lambda d: walk.text("#live-updated") not in ("", "—"), "the live time")
        walk.shot("school-live")
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)

    # --- a pasted token, as the identity provider would hand it over ------------------------------------------
    walk.sign_out()
    token = dev_idp.issue_token(settings, "auditor-e2e", {"role": "auditor", "region": world.region.code})
    walk.fill("#token", token)
    walk.click("form.card button[type=submit]")
    walk.at("/console/reconciliation", "the reconciliation")
    walk.css("svg.chart")
    walk.shot("reconciliation-region")

    # --- every export button downloads its file ----------------------------------------------------------------
    links = walk.find_all("a[data-export]")
    assert len(links) == 6
    for link_ in links:
        link_.click()
    expected = {f"{what}-{fmt}" for what in ("reconciliation", "entries") for fmt in ("csv", "json", "xlsx")}

    def downloaded(_: Any) -> bool:
        names = [p.name for p in browser.downloads.iterdir() if not p.name.endswith(".crdownload")]
        got = {f"{n.split('-', 1)[0]}-{n.rsplit('.', 1)[1]}" for n in names}
        return expected <= got

    walk.wait(downloaded, "every export downloaded")
    for path in browser.downloads.iterdir():
        assert path.stat().st_size > 0, path
    if os.environ.get("CI", "").lower() == "true":
        shutil.copytree(browser.downloads, SHOTS / f"{walk.prefix}-downloads", dirs_exist_ok=True)

    # --- drill down: school -> day -> entry, and verify its proof ----------------------------------------------
    walk.click(f"#drill a[href*='school={world.school.bin}']")
    walk.at(f"school={world.school.bin}", "the school's reconciliation")
    walk.shot("reconciliation-school")
    walk.open(f"/console/schools/{world.school.bin}/days/{world.today.isoformat()}")
    walk.shot("day-entries")
    walk.click("#entries a[href^='/console/entries/']")
    walk.at("/console/entries/", "the entry")
    walk.click("#verify")
    assert "result ok" in (walk.attr("#verify-result", "class") or ""), walk.text("#verify-result")
    walk.shot("entry-proof-verified")

    # --- the ledger: checkpoints and a verification run ----------------------------------------------------------
    walk.open("/console/ledger")
    walk.click(f"#school-{world.school.bin} form button")
    walk.at("verified=", "the verification")
    assert "OK" in walk.text(f"#school-{world.school.bin}")
    walk.shot("ledger")

    # --- keyboard and language: the first Tab reaches the skip link; the language form switches to Kazakh ------
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    walk.open("/console/ledger")
    ActionChains(browser).send_keys(Keys.TAB).perform()
    assert browser.switch_to.active_element.get_attribute("class") == "skip"
    Select(walk.css("#lang-select")).select_by_value("kk")
    walk.click("form[action='/console/language'] button")
    walk.wait(lambda d: walk.lang() == "kk", "Kazakh")
    assert "Тізілім" in walk.text("nav")
    walk.shot("ledger-kk")
    Select(walk.css("#lang-select")).select_by_value("en")
    walk.click("form[action='/console/language'] button")
    walk.wait(lambda d: walk.lang() == "en", "English again")

    # --- the parent preview at 360 px, with feedback (its comment must come out as text) ----------------------
    entry_id = _served_meal(server.url, key, world.eligible[0], 1000)
    walk.sign_out()
    browser.set_window_size(360, 800)
    walk.open("/console/dev-sign-in")
    walk.click("input[name=role][value=parent]")
    Select(walk.css("#parent")).select_by_value(PARENT_IIN)
    walk.click("form.card button[type=submit]")
    walk.at("/console/parent", "the parent preview")
    walk.no_horizontal_scroll()
    walk.shot("parent")
    walk.click(f"a[href*='rate={entry_id}']" if entry_id else "a[href*='rate=']")
    walk.at("rate=", "the feedback form")
    walk.click("#feedback-form input[name=rating][value='4']")
    walk.click("#feedback-form input[name=tags][value=tasty]")
    comment = '<script>window.__xss = 1</script> <b>Soup was cold</b>'
    walk.fill("#comment", comment)
    walk.shot("parent-feedback-form")
    walk.click("#feedback-form button[type=submit]")
    walk.at("saved=1", "the feedback saved")
    assert walk.text("#feedback-comment") == comment  # shown as text, not markup
    assert walk.script("return window.__xss") is None
    walk.no_horizontal_scroll()
    walk.shot("parent-feedback-saved")

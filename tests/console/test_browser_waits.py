"""The browser test's waits (tests/console/browser.py), without a browser: a lookup or read that races a page
replacement is tried again, whatever form the driver gives the race; every other error fails at once.

The race cannot be produced on demand in a real browser (it lives in the instant a new document commits),
so the driver's answers are played back here, in the words Chromium's driver uses; the browser test itself
runs the walk for real.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("selenium")

from selenium.common.exceptions import (
    InvalidSelectorException,
    InvalidSessionIdException,
    JavascriptException,
    NoSuchElementException,
    NoSuchWindowException,
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)

from tests.console import browser
from tests.console.browser import Walk

# The page replaced under a lookup or read, as Chromium's driver reports it.
RACES = [
    NoSuchElementException("no such element: Unable to locate element: {\"method\":\"css selector\"}"),
    StaleElementReferenceException("stale element reference: stale element not found"),
    WebDriverException('unknown error: unhandled inspector error: {"code":-32000,'
                       '"message":"Node with given id does not belong to the document"}'),
    WebDriverException('unknown error: unhandled inspector error: {"code":-32000,'
                       '"message":"No node with given id found"}'),
    WebDriverException("unknown error: Cannot find context with specified id"),
    JavascriptException("javascript error: Execution context was destroyed, most likely because of a navigation."),
    WebDriverException("unknown error: Node is detached from document"),
    WebDriverException("unknown error: Inspected target navigated or closed"),
]
# Real failures: the browser is gone, the session or window is, the selector is wrong, the test is wrong.
FAILURES = [
    WebDriverException("unknown error: session deleted because of page crash"),
    WebDriverException("chrome not reachable"),
    InvalidSessionIdException("invalid session id"),
    NoSuchWindowException("no such window: target window already closed"),
    InvalidSelectorException("invalid selector: An invalid or illegal selector was specified"),
    AssertionError("the test's own check"),
    ValueError("invalid literal for int() with base 10: ''"),
]


class Element:
    def __init__(self, page: Page, text: str) -> None:
        self.page, self._text = page, text

    def _check(self) -> None:
        if self.page.pending:
            raise self.page.pending.pop(0)

    @property
    def text(self) -> str:
        self._check()
        return self._text

    def get_attribute(self, name: str) -> str:
        self._check()
        return f"{name} of {self._text}"

    def click(self) -> None:
        self._check()
        self.page.clicks += 1

    def send_keys(self, keys: str) -> None:
        self._check()


class Page:
    """A driver whose next answers raise the given errors, in order, then answer as a settled page."""

    def __init__(self, *errors: BaseException, lookup_errors: tuple[BaseException, ...] = ()) -> None:
        self.pending = list(errors)
        self.lookup_errors = list(lookup_errors)
        self.clicks = 0
        self.lookups = 0

    def find_element(self, by: str, selector: str) -> Element:
        self.lookups += 1
        if self.lookup_errors:
            raise self.lookup_errors.pop(0)
        return Element(self, f"text of {selector}")

    def find_elements(self, by: str, selector: str) -> list[Element]:
        return [self.find_element(by, selector)]

    def execute_script(self, source: str) -> str:
        if self.pending:
            raise self.pending.pop(0)
        return "kk"


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser, "POLL_S", 0.01)


@pytest.mark.parametrize("race", RACES, ids=lambda e: type(e).__name__ + ":" + e.msg[:40])
def test_every_read_racing_a_page_replacement_is_tried_again(race):
    for read in (lambda w: w.text("#x"), lambda w: w.attr("html", "lang"), lambda w: w.lang(),
                 lambda w: w.wait(lambda d: d.find_element("css selector", "html").get_attribute("lang"), "lang")):
        page = Page(race, race)
        assert read(Walk(page, "http://console", "t"))
        assert page.pending == []
    page = Page(lookup_errors=(race, race))
    assert Walk(page, "http://console", "t").css("#x").text == "text of #x"


@pytest.mark.parametrize("race", RACES, ids=lambda e: type(e).__name__ + ":" + e.msg[:40])
def test_a_click_that_met_a_replaced_page_is_made_once_on_the_new_one(race):
    page = Page(race)
    Walk(page, "http://console", "t").click("button")
    assert page.clicks == 1


@pytest.mark.parametrize("failure", FAILURES, ids=lambda e: type(e).__name__ + ":" + str(e)[:30])
def test_any_other_error_fails_at_once(failure):
    for read in (lambda w: w.text("#x"), lambda w: w.click("button"), lambda w: w.lang()):
        page = Page(failure)
        with pytest.raises(type(failure)):
            read(Walk(page, "http://console", "t"))
    calls: list[int] = []

    def condition(driver: Any) -> bool:
        calls.append(1)
        raise failure

    with pytest.raises(type(failure)):
        Walk(Page(), "http://console", "t").wait(condition, "a condition that fails")
    assert len(calls) == 1


def test_a_page_that_never_settles_fails_naming_the_last_race(monkeypatch):
    monkeypatch.setattr(browser, "WAIT_S", 0.2)
    race = RACES[2]

    def never(driver: Any) -> bool:
        raise race

    with pytest.raises(TimeoutException, match=r"the language form's answer.*does not belong to the document"):
        Walk(Page(), "http://console", "t").wait(never, "the language form's answer")


def test_reads_of_empty_values_do_not_wait_for_them_to_be_truthy():
    page = Page()
    walk = Walk(page, "http://console", "t")
    page.find_element = lambda by, selector: Element(page, "")  # type: ignore[method-assign]
    assert walk.text("#empty") == ""

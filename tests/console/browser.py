"""Driving the console in a browser without racing it: every lookup, read and click of the browser test goes
through `Walk`, whose waits retry exactly what a page being replaced can cause, and nothing else.

A form's answer or a link replaces the page while the test looks at it. An element looked up a moment
before is then missing from the new page, stale, or (Chromium, in the instant the new document commits)
answered with an inspector error such as "Node with given id does not belong to the document"; a script
run in that instant may find its execution context gone. Those are the class retried (until WAIT_S, then
the wait fails naming the last of them). Any other error of the browser or of the test's own condition
(a crashed or closed browser, a bad selector, an assertion, a value that does not parse) fails at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

WAIT_S = 25
POLL_S = 0.2

# What Chromium's driver answers when the node or the script context it was asked about belongs to a
# document that is being, or has been, replaced (it reports them as plain WebDriverExceptions).
PAGE_REPLACED_MESSAGES = (
    "does not belong to the document",
    "no node with given id",
    "could not find node with given id",
    "node is detached from document",
    "cannot find context with specified id",
    "execution context was destroyed",
    "inspected target navigated or closed",
)


def page_replaced(exc: BaseException) -> bool:
    """Whether this error only says that the page changed under the lookup (worth another try)."""
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
        WebDriverException,
    )

    if isinstance(exc, NoSuchElementException | StaleElementReferenceException):
        return True
    if not isinstance(exc, WebDriverException):
        return False
    text = (exc.msg or "").lower()
    return any(message in text for message in PAGE_REPLACED_MESSAGES)


class Walk:
    """One browser's walk through the console; `prefix` names its screenshots."""

    def __init__(self, driver: Any, base: str, prefix: str, shots: Path | None = None) -> None:
        self.driver, self.base, self.prefix, self.shots = driver, base, prefix, shots
        self.n = 0

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def shot(self, name: str) -> Path:
        """The whole page as a PNG (the window grows to the page's height first)."""
        assert self.shots is not None
        self.n += 1
        width = self.driver.get_window_size()["width"]
        height = self.script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(width, min(max(int(height) + 120, 640), 5000))
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"{self.prefix}-{self.n:02d}-{name}.png"
        assert self.driver.save_screenshot(str(path))
        return path

    def wait(self, condition: Any, message: str) -> Any:
        """condition(driver) until it is truthy; a page replaced under it is tried again, anything else raised."""
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        last: list[BaseException] = []

        def attempt(driver: Any) -> Any:
            try:
                return condition(driver)
            except Exception as exc:
                if not page_replaced(exc):
                    raise
                last[:] = [exc]
                return False

        try:
            return WebDriverWait(self.driver, WAIT_S, poll_frequency=POLL_S, ignored_exceptions=()).until(
                attempt, message)
        except TimeoutException as exc:
            if last:
                first_line = (getattr(last[0], "msg", None) or str(last[0])).splitlines()[0]
                raise TimeoutException(f"{message} (last: {type(last[0]).__name__}: {first_line})") from last[0]
            raise exc

    def css(self, selector: str) -> Any:
        """The element, once the current page has it."""
        return self.wait(lambda d: d.find_element("css selector", selector), f"the element {selector}")

    def find_all(self, selector: str) -> list[Any]:
        return self.wait(lambda d: d.find_elements("css selector", selector), f"elements {selector}")

    def text(self, selector: str) -> str:
        """The element's text, looked up and read together (again, if the page was replaced in between)."""
        return self.wait(lambda d: (d.find_element("css selector", selector).text,), f"the text of {selector}")[0]

    def attr(self, selector: str, name: str) -> str | None:
        return self.wait(lambda d: (d.find_element("css selector", selector).get_attribute(name),),
                         f"{name} of {selector}")[0]

    def click(self, selector: str) -> None:
        """Click the element of the current page (a click that met a replaced page never happened: again)."""
        self.wait(lambda d: d.find_element("css selector", selector).click() or True, f"a click on {selector}")

    def fill(self, selector: str, keys: str) -> None:
        self.css(selector).send_keys(keys)

    def script(self, source: str) -> Any:
        """A script's answer, run again if the page's context was replaced while it ran."""
        return self.wait(lambda d: (d.execute_script(source),), f"the script {source[:40]}")[0]

    def lang(self) -> str:
        return str(self.script("return document.documentElement.lang"))

    def at(self, fragment: str, message: str) -> None:
        """Wait until the browser is at a URL holding `fragment` (a navigation has happened)."""
        self.wait(lambda d: fragment in d.current_url, message)

    def sign_out(self) -> None:
        self.click("form[action='/console/sign-out'] button")
        self.at("/console/sign-in", "signed out")

    def no_horizontal_scroll(self) -> None:
        scroll = self.script("return document.documentElement.scrollWidth")
        assert scroll <= self.script("return window.innerWidth"), "the page is wider than the screen"

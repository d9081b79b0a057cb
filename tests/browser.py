"""Headless Debian chromium driven by Selenium, for the web view's tests (tests/api/test_web_browser.py,
tests/integration/test_web.py). Selenium never fetches a driver: the Debian packages' paths are
given and its manager told to stay offline. Screenshots go to $NAAS_ARTIFACTS (CI keeps that
directory) or the test's tmp_path, named after the test; a failure names its screenshot.

Without chromium or chromedriver a developer's run (not root) skips these tests saying so; a
root run (CI, which installs them with scripts/setup-host.sh) fails instead."""

import contextlib
import os
import shutil
import time
from pathlib import Path

import pytest

CHROMIUM = '/usr/bin/chromium'
CHROMEDRIVER = '/usr/bin/chromedriver'
STATUS = "return document.getElementById('status').dataset.status"
SPANS = "return [...document.querySelectorAll('#spans line')].map(l => [l.dataset.span, l.dataset.up])"
ROWS = (
    "return [...document.querySelectorAll('#intents tbody tr')]"
    '.filter(r => !r.hidden).map(r => [r.dataset.intent, r.dataset.state])'
)
HIGHLIGHTED = (
    'return [...document.querySelectorAll(`#spans line.on-${arguments[0]}`)].map(l => l.dataset.span)'
)
EVENTS = (
    "return [...document.querySelectorAll('#events li' + (arguments[0] ? '.' + arguments[0] : ''))]"
    '.map(li => li.textContent)'
)


def require_chromium():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    if not missing:
        return
    why = f'{" and ".join(missing)} not installed (apt-get install chromium chromium-driver)'
    if os.geteuid() != 0:
        pytest.skip(why)
    pytest.fail(why)


def artifacts_dir(tmp_path) -> Path:
    path = Path(os.environ['NAAS_ARTIFACTS']) if os.environ.get('NAAS_ARTIFACTS') else Path(tmp_path)
    path.mkdir(parents=True, exist_ok=True)
    return path


class Browser:
    """One headless chromium; `shot(name)` saves a screenshot and returns its path."""

    def __init__(self, artifacts: Path, prefix: str) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ('--headless=new', '--no-sandbox', '--disable-gpu', '--window-size=1400,900'):
            options.add_argument(arg)
        os.environ['SE_OFFLINE'] = 'true'  # Selenium Manager: no download, ever
        self.driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
        self.driver.set_script_timeout(10)
        self.artifacts, self.prefix = artifacts, prefix

    def shot(self, name: str) -> Path:
        path = self.artifacts / f'{self.prefix}-{name}.png'
        self.driver.save_screenshot(str(path))
        return path

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def wait(self, what: str, condition, timeout_s: float = 5.0, every_s: float = 0.02):
        """Poll `condition()` until true; fail naming `what` and a screenshot. Returns the
        seconds it took."""
        started = time.monotonic()
        while True:
            if condition():
                return time.monotonic() - started
            if time.monotonic() - started > timeout_s:
                shot = self.shot(f'timeout-{what.replace(" ", "-")}')
                raise AssertionError(
                    f'the page did not show {what} within {timeout_s:g} s (screenshot: {shot})'
                )
            time.sleep(every_s)

    def close(self) -> None:
        self.driver.quit()

    # --- what the web view shows ---------------------------------------------------------------

    def open(self, url: str, spans: int, timeout_s: float = 5.0) -> None:
        """Load the page and wait until it is live and draws `spans` spans, all up."""
        self.driver.get(url)
        self.wait('the live fabric', lambda: self.js(STATUS) == 'live', timeout_s)
        self.wait('every span up', lambda: len(up := self.spans()) == spans and all(up.values()), timeout_s)

    def spans(self) -> dict[str, bool]:
        """Span id -> up, as the map draws it."""
        return {span: up == 'true' for span, up in self.js(SPANS)}

    def rows(self) -> list[list[str]]:
        """[intent id, state] of each intent listed (and not filtered out)."""
        return self.js(ROWS)

    def highlighted(self, role: str) -> set[frozenset]:
        """The spans drawn as the selected intent's `role` ('primary', 'backup'), as site pairs."""
        return {frozenset(span.split('-')) for span in self.js(HIGHLIGHTED, role)}

    def events(self, kind: str = '') -> list[str]:
        """The event list's lines (of `kind`: 'move', 'failed', 'topology'), newest first."""
        return self.js(EVENTS, kind)


@contextlib.contextmanager
def browser(request, tmp_path):
    """A Browser for this test; on a failure, a screenshot named in the error."""
    require_chromium()
    b = Browser(artifacts_dir(tmp_path), request.node.name)
    try:
        yield b
    except AssertionError as e:
        shot = b.shot('failed')
        raise AssertionError(f'{e}\n(screenshot: {shot})') from e
    finally:
        b.close()

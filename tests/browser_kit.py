"""What the browser tests share: Debian's Chromium through selenium, and Jupyter started by a make target.

tests/test_browser.py (the student's JupyterLab) and tests/test_browser_instructor.py (formgrader and
the feedback page) use these; the `browser` fixture is in tests/conftest.py. Without `make browser`
(Debian's chromium and chromium-driver) the tests are skipped with one message.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CHROMIUM, DRIVER = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
needs_chromium = pytest.mark.skipif(
    not (CHROMIUM and DRIVER), reason="no Chromium: `make browser` installs Debian's chromium and chromium-driver")
SHOTS = REPO / "build" / "browser"  # screenshots, for a person to look at
TOKEN = "browser-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyter(course: Path, target: str, args: str = ""):
    """`make <target>` (lab, formgrader) run in `course` on a free port with TOKEN; yields its URL once it answers."""
    port = free_port()
    lab_args = f"--no-browser --port={port} --IdentityProvider.token={TOKEN} {args}".strip()
    server = subprocess.Popen(["make", "-f", str(REPO / "Makefile"), "-C", str(course), target,
                               f"VENV={REPO / '.venv'}", f"LAB_ARGS={lab_args}"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, "MPLBACKEND": "Agg"})
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"make {target} exited with {server.returncode}")
                time.sleep(0.5)
        else:
            pytest.fail(f"make {target} did not start Jupyter within 2 minutes")
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def new_chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})  # every request, for requests_left()
    SHOTS.mkdir(parents=True, exist_ok=True)
    return webdriver.Chrome(service=Service(DRIVER), options=options)


def requests_left(driver) -> list[str]:
    """URLs the page asked for since the last call that were not local (file:, data:) and that the
    browser did not block itself (Content-Security-Policy): requests that left, or would leave, the
    machine. From Chrome's performance log (DevTools Network events)."""
    events = [json.loads(entry["message"])["message"] for entry in driver.get_log("performance")]
    blocked = {e["params"]["requestId"] for e in events
               if e["method"] == "Network.loadingFailed" and e["params"].get("blockedReason") == "csp"}
    return [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"
            and not e["params"]["request"]["url"].startswith(("file:", "data:")) and e["params"]["requestId"] not in blocked]


def wait_for(driver, condition, seconds: float = 120, what: str = "the page"):
    """Polls condition(driver) until it returns something truthy. A page that re-renders while the
    condition reads it (formgrader redraws its tables as the data arrives) leaves stale elements:
    that poll counts as "not yet", and the next one reads the new elements."""
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, seconds, poll_frequency=0.25,
                             ignored_exceptions=(StaleElementReferenceException,)).until(lambda d: condition(d))
    except TimeoutException:
        driver.save_screenshot(str(SHOTS / "failed.png"))
        raise AssertionError(f"waited {seconds:g} s for {what}; screenshot in build/browser/failed.png") from None

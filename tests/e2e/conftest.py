"""End-to-end fixtures: the real server (gunicorn on 127.0.0.1) over a migrated and seeded SQLite
file, Debian's headless Chromium driven by Playwright, a fresh browser context per test, and a
``sign_in`` helper that goes through the real form.

Every test under ``tests/e2e`` carries the ``e2e`` marker, so ``pytest -m "not e2e"`` skips them all.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port

E2E_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = E2E_DIR.parents[1]
CHROMIUM = "/usr/bin/chromium"
# Without the networking flags Chromium keeps trying to reach Google services on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEMO_PASSWORD = "demo-password"
STARTUP_TIMEOUT = 30.0
DEFAULT_TIMEOUT_MS = 10_000


def pytest_collection_modifyitems(config, items):
    """Mark every test that lives under tests/e2e (this hook sees the whole session's items)."""
    for item in items:
        if E2E_DIR in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.e2e)


# --- the real server ---------------------------------------------------------------------------


@dataclass
class LiveServer:
    url: str
    env: dict[str, str]
    database_url: str


def _flask_cli(env: dict[str, str], *args: str) -> None:
    """Run ``flask --app app <args>`` the way an operator would; fail the session with its output."""
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args],
        cwd=PROJECT_ROOT,
        env=env,
        check=False,  # a failure is reported below with the command's own output
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        pytest.fail(
            f"`flask {' '.join(args)}` exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}",
            pytrace=False,
        )


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=2) as resp:
            return resp.status == 200
    except urllib.error.HTTPError as exc:
        exc.close()  # an unclosed HTTPError leaks its socket (a ResourceWarning under -W error)
        return False
    except OSError:
        return False


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, smtp_sink):
    """gunicorn (2 workers) serving app:app on a free port, over a fresh migrated + seeded SQLite file.

    Mail goes to the session's SMTP sink. Fast password hashing and a high sign-in failure limit keep
    the run quick and the tests independent of one another.
    """
    tmp = tmp_path_factory.mktemp("e2e")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database_url = f"sqlite:///{tmp / 'e2e.db'}"
    env = {
        **os.environ,
        "SECRET_KEY": "e2e-secret",
        "DATABASE_URL": database_url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_sink.port),
        "BASE_URL": url,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "LOGIN_MAX_FAILURES": "50",
        "FLASK_DEBUG": "0",
    }
    _flask_cli(env, "db", "upgrade")
    _flask_cli(env, "seed-demo")

    log_path = tmp / "server.log"
    command = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "--graceful-timeout", "5"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [*command, "app:app"],
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _healthy(url):
            if proc.poll() is not None:
                pytest.fail(
                    f"gunicorn exited with {proc.returncode} before /healthz answered:\n"
                    + log_path.read_text(errors="replace"),
                    pytrace=False,
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"/healthz did not answer 200 within {STARTUP_TIMEOUT:.0f} s:\n"
                    + log_path.read_text(errors="replace"),
                    pytrace=False,
                )
            time.sleep(0.1)
        yield LiveServer(url=url, env=env, database_url=database_url)
    finally:
        _stop(proc)


# --- the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless. Under CI=true the root conftest turns the skip into a failure."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(browser):
    """A fresh context (no cookies carried over from other tests) and one page in it."""
    context = browser.new_context()
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page, live_server: LiveServer, email: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the real /login form and wait for the dashboard."""
    page.goto(live_server.url + "/login")
    page.locator("input[name='email']").fill(email)
    page.locator("input[name='password']").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/")

"""Smoke test of the README's run command: `make run` exactly as a new user types it, on the real clock.

Starts `make run` (venv, migrate, seed, serve) on a temporary SQLite file and a free port, waits for /healthz,
signs in through the real form (with its CSRF token) as each demo login, opens the dashboard, then stops the
server. Exit status 0 only if all of that worked; otherwise prints the server's output.

    python .ci/smoke_run.py          (make test runs it)
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STARTUP_SECONDS = 300
DEMO_PASSWORD = "demo-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_logins() -> list[str]:
    """The logins `make run` prints (read from the Makefile, so the two can't drift apart)."""
    text = (ROOT / "Makefile").read_text()
    block = text[text.index("demo logins") :]
    block = block[: block.index("flask run")]
    return re.findall(r"[\w.]+@example\.com", block)


def get(opener, url: str) -> tuple[int, str]:
    try:
        with opener.open(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        body = exc.read().decode(errors="replace")
        exc.close()
        return exc.code, body


def sign_in(base: str, email: str) -> None:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    status, page = get(opener, base + "/login")
    assert status == 200, f"GET /login answered {status}"
    tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', page)
    token = tag and re.search(r'value="([^"]+)"', tag.group(0))
    assert token, "the sign-in form has no CSRF token"
    data = urllib.parse.urlencode({"csrf_token": token.group(1), "email": email, "password": DEMO_PASSWORD}).encode()
    with opener.open(base + "/login", data=data, timeout=30) as resp:
        landed = resp.geturl()
        body = resp.read().decode()
    assert "/login" not in urllib.parse.urlparse(landed).path, f"{email}: still on the sign-in page after signing in"
    assert "Sign out" in body or "logout" in body, f"{email}: the page after sign-in is not a signed-in page"
    status, dashboard = get(opener, base + "/")
    assert status == 200, f"{email}: dashboard answered {status}"
    print(f"  signed in as {email}: dashboard {status}, {len(dashboard):,} bytes")


def main() -> int:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="tandem-smoke-") as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp}/tandem.db",
            "PORT": str(port),
            "BASE_URL": base,
        }
        env.pop("TANDEM_NOW", None)  # the real clock: that is the point
        log_path = Path(tmp) / "make-run.log"
        print(f"smoke: `make run` on {base} (real clock: {time.strftime('%Y-%m-%d %H:%M %Z')})")
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                ["make", "--no-print-directory", "run"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while True:
                if proc.poll() is not None:
                    raise AssertionError(f"`make run` exited with {proc.returncode} before serving")
                try:
                    with urllib.request.urlopen(base + "/healthz", timeout=2) as resp:
                        if resp.status == 200:
                            break
                except urllib.error.HTTPError as exc:
                    exc.close()
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"/healthz did not answer within {STARTUP_SECONDS} s")
                time.sleep(0.5)
            print(f"  /healthz answered 200 after {STARTUP_SECONDS - (deadline - time.monotonic()):.0f} s")
            logins = demo_logins()
            assert len(logins) >= 6, f"found only {logins} in the Makefile"
            for email in logins:
                sign_in(base, email)
        except AssertionError as exc:
            print(f"smoke FAILED: {exc}\n--- make run output ---\n{log_path.read_text()[-6000:]}", file=sys.stderr)
            return 1
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
    print("smoke: `make run` works today")
    return 0


if __name__ == "__main__":
    sys.exit(main())

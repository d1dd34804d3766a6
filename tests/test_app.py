"""Health, error pages, security headers, no external assets."""

from __future__ import annotations

import pathlib
import re

from program.extensions import db

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_healthz_ok(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {
        "status": "ok",
        "database": "ok",
        "jobs": "inline",
        "mail_oldest_queued_seconds": 0,
        "mail_failed": 0,
    }


def test_healthz_503_when_database_is_down(database_url, _schema, tmp_path):
    from tests.conftest import make_app

    broken = make_app(
        "postgresql+psycopg://nobody@127.0.0.1:1/none"
        if database_url.startswith("postgresql")
        else f"sqlite:///{tmp_path}"
    )
    with broken.app_context():
        resp = broken.test_client().get("/healthz")
        assert resp.status_code == 503
        assert resp.get_json()["status"] == "error"
        assert "Traceback" not in resp.get_data(as_text=True)
        db.session.remove()
        db.engine.dispose()


def test_404_uses_layout(login, make_user):
    c = login(make_user())
    resp = c.get("/no/such/page")
    assert resp.status_code == 404
    assert b"Not found" in resp.data and b"Tandem" in resp.data and b"Sign out" in resp.data


def test_500_leaks_nothing(database_url, _schema):
    from tests.conftest import make_app

    fresh = make_app(database_url)  # a route can only be added before an app serves its first request

    @fresh.route("/boom")
    def boom():
        raise RuntimeError("secret internals")

    fresh.config["PROPAGATE_EXCEPTIONS"] = False
    with fresh.app_context():
        resp = fresh.test_client().get("/boom")
        assert resp.status_code == 500
        assert b"secret internals" not in resp.data
        assert b"Something went wrong" in resp.data
        db.session.remove()
        db.engine.dispose()


def test_security_headers(client):
    resp = client.get("/login")
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY"


EXTERNAL = re.compile(
    r"""(?:src|href)\s*=\s*["'](?:https?:)?//|@import\s+url\(\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//""", re.I
)


def test_no_template_or_stylesheet_loads_an_external_url():
    offenders = []
    for path in list((ROOT / "templates").rglob("*.html")) + list((ROOT / "static").rglob("*.css")):
        if "notify" in path.parts:
            continue  # emails link to the app by absolute URL on purpose
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if EXTERNAL.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{lineno}: {line.strip()}")
    assert offenders == []


def test_external_url_detector_catches_a_cdn():
    assert EXTERNAL.search('<script src="https://cdn.example.com/x.js"></script>')
    assert EXTERNAL.search("@import url('//fonts.example.com/css');")
    assert not EXTERNAL.search('<link href="/static/css/app.css">')


def test_secret_key_required_outside_debug(monkeypatch):
    import pytest

    from program import create_app

    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"SECRET_KEY": None})


def test_postgres_url_is_normalised():
    from program.config import _normalise_db_url

    assert _normalise_db_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert _normalise_db_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"


def test_times_show_in_viewer_timezone(app, login, make_user, now):
    from program.filters import localtime

    user = make_user(timezone="America/New_York")
    c = login(user)
    with app.test_request_context():
        from flask_login import login_user

        login_user(user)
        assert localtime(now) == "Mon 23 Nov 2026, 05:00 EST"
    assert c.get("/").status_code == 200
    db.session.rollback()


def test_page_templates_have_no_inline_styles_or_scripts():
    """The CSP allows only our own stylesheet and scripts: an inline style="" or <script> would be ignored."""
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        rel = path.relative_to(ROOT / "templates")
        if rel.parts[0] == "mail" or "mail" in rel.parts[1:2] or rel.parts[:2] == ("reports", "pdf"):
            continue  # emails and PDFs are not served under the CSP
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if ' style="' in line or re.search(r"<script(?![^>]*\bsrc=)", line):
                offenders.append(f"{rel}:{lineno}")
    assert offenders == []

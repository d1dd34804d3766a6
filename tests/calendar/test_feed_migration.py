"""Migration a10a00000003 hashes the feed tokens already in the database, so existing subscriptions keep
working once only hashes are stored. Runs on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set."""

from __future__ import annotations

import hashlib
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime

from flask_migrate import downgrade, upgrade
from sqlalchemy import MetaData, create_engine, text

from program.extensions import db
from tests.conftest import TEST_DATABASE_URL, make_app

CLEAR = "Zk3vQ0pYq2xW8mN4bT7rL1sH5dF9gJ6c"  # a token_urlsafe(24) as the old code stored it


@contextmanager
def _empty_database(tmp_path):
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_path}/feeds.db"
        return
    name = f"tandem_feed_{uuid.uuid4().hex[:8]}"
    admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield TEST_DATABASE_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_existing_feed_addresses_keep_working(tmp_path):
    from program.calendar import feeds as cal

    with _empty_database(tmp_path) as url:
        app = make_app(url)
        with app.app_context():
            upgrade(revision="a10a00000002")
            meta = MetaData()
            meta.reflect(db.engine, only=["user", "calendar_feed"])
            at = datetime(2026, 11, 1, 9, tzinfo=UTC)
            with db.engine.begin() as conn:
                user_id = conn.execute(
                    meta.tables["user"]
                    .insert()
                    .values(
                        email="old@example.com",
                        name="Old Subscriber",
                        role="staff",
                        timezone="UTC",
                        active=True,
                        session_token="s" * 32,
                        created_at=at,
                    )
                ).inserted_primary_key[0]
                conn.execute(meta.tables["calendar_feed"].insert().values(user_id=user_id, token=CLEAR, rotated_at=at))

            upgrade()
            with db.engine.connect() as conn:
                columns = {c["name"] for c in db.inspect(conn).get_columns("calendar_feed")}
                stored = conn.execute(text("SELECT token_hash FROM calendar_feed")).scalar_one()
            assert "token" not in columns
            assert stored == hashlib.sha256(CLEAR.encode()).hexdigest()
            assert cal.user_for_token(CLEAR).email == "old@example.com"
            db.session.remove()

            downgrade(revision="a10a00000002")  # a hash can't be reversed: the feed gets a new address
            with db.engine.connect() as conn:
                token = conn.execute(text("SELECT token FROM calendar_feed")).scalar_one()
            assert token and token != CLEAR and token != stored
            downgrade(revision="base")
            db.engine.dispose()

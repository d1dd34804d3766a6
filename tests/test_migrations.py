"""The schema comes from migrations; prove they build exactly what the models describe."""

from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, text

from program.extensions import db
from tests.conftest import TEST_DATABASE_URL, make_app


def _ours(name, type_, parent_names) -> bool:
    """Not procrastinate's tables (the job queue's own schema, installed by a migration on PostgreSQL)."""
    return not (type_ == "table" and (name or "").startswith("procrastinate_"))


def _diff_after_upgrade(url: str) -> list:
    app = make_app(url)
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            opts = {"compare_type": True, "render_as_batch": True, "include_name": _ours}
            ctx = MigrationContext.configure(conn, opts=opts)
            diff = compare_metadata(ctx, db.metadata)
        downgrade(revision="base")
        with db.engine.connect() as conn:
            leftover = [t for t in db.inspect(conn).get_table_names() if t != "alembic_version"]
        db.engine.dispose()
    return diff, leftover


def test_migrations_match_models_on_sqlite(tmp_path):
    diff, leftover = _diff_after_upgrade(f"sqlite:///{tmp_path}/migrated.db")
    assert diff == []
    assert leftover == []


@pytest.mark.postgres_only
def test_migrations_match_models_on_postgresql(_schema):
    if not TEST_DATABASE_URL:
        pytest.skip("needs PostgreSQL: set TEST_DATABASE_URL")
    name = f"tandem_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = TEST_DATABASE_URL.rsplit("/", 1)[0] + "/" + name
        diff, leftover = _diff_after_upgrade(url)
        assert diff == []
        assert leftover == []
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

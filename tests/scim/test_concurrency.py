"""If-Match holds under concurrency (PostgreSQL): the version a change is checked against is the version it
changes, because the row stays locked from the check to the commit."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from program.extensions import db
from tests.scim.conftest import ScimClient


def wait_for_a_blocked_query(conn, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
        ).scalar()
        conn.rollback()  # pg_stat_activity is read once per transaction
        if waiting:
            return
        time.sleep(0.02)
    raise AssertionError("the SCIM request never waited for the row lock")


@pytest.mark.postgres_only
def test_if_match_is_checked_against_the_version_it_changes(app, scim, pg_required):
    made = scim.create_user("race@example.com", "Race")
    tag = made["meta"]["version"]
    answers: list[int] = []

    def patch_with_the_old_tag() -> None:
        with app.app_context():  # a request of its own, on a connection of its own
            response = ScimClient(app.test_client(), scim.token).patch(
                f"/Users/{made['id']}",
                [{"op": "replace", "path": "displayName", "value": "Mine"}],
                headers={"If-Match": tag},
            )
            answers.append(response.status_code)
            db.session.remove()

    # Someone else holds the row and changes it while the PATCH waits: the PATCH must then see the new version.
    with db.engine.connect() as other:
        other.execute(text('SELECT id FROM "user" WHERE id = :id FOR UPDATE'), {"id": int(made["id"])})
        worker = threading.Thread(target=patch_with_the_old_tag)
        worker.start()
        with db.engine.connect() as watcher:
            wait_for_a_blocked_query(watcher)
        other.execute(text('UPDATE "user" SET name = :n WHERE id = :id'), {"n": "Theirs", "id": int(made["id"])})
        other.commit()
    worker.join(timeout=30)
    assert answers == [412]
    db.session.expire_all()
    assert scim.get(f"/Users/{made['id']}").get_json()["displayName"] == "Theirs"

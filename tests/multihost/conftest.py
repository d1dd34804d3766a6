"""The rig for the multi-host tests: one PostgreSQL database (``tandem_rig_<random>``, migrated and seeded by the
real CLI), two gunicorn hosts, two ``flask worker`` processes and an SMTP sink that can go down and come back on
the same port (tests/multihost/rig.py). Started once for the module, killed and dropped at its end; a failing test
gets the last lines of every process's log in its report.

PostgreSQL only: without TEST_DATABASE_URL the rig is not built (the tests carry ``postgres_only``, so the SQLite
pass deselects them; under CI=true a skip would fail the run).
"""

from __future__ import annotations

import pytest

from tests.conftest import TEST_DATABASE_URL
from tests.multihost.rig import Rig


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    if not TEST_DATABASE_URL or not TEST_DATABASE_URL.startswith("postgresql"):
        pytest.skip("the multi-host rig needs PostgreSQL: set TEST_DATABASE_URL")
    the_rig = Rig(tmp_path_factory.mktemp("multihost"))
    try:
        the_rig.start()
    except BaseException:
        the_rig.stop()
        raise
    try:
        yield the_rig
    finally:
        problems = the_rig.problems()
        if problems:  # for information: the engine's own error lines (a failed schedule, a job that raised)
            print(f"\n{len(problems)} error line(s) in the rig's logs, first ones:\n" + "\n".join(problems[:20]))
        the_rig.stop()


@pytest.fixture
def two_workers(rig):
    """Two live workers before the test (a test that kills one starts a replacement; this restores it anyway)."""
    for proc in [p for p in rig.workers if not p.alive()]:
        rig.workers.remove(proc)
        rig.retired.append(proc)
    while len(rig.workers) < 2:
        rig.wait_worker_ready(rig.start_worker())
    return rig


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    rig = item.funcargs.get("rig") if hasattr(item, "funcargs") else None
    if report.failed and isinstance(rig, Rig):
        report.sections.append(("multi-host rig: process logs (last lines)", rig.logs(tail=120)))
    return report

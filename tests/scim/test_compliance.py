"""scim2-tester, the python-scim project's compliance checker, run against Tandem's /scim/v2 in-process: every
check of what Tandem declares (its ServiceProviderConfig, ResourceTypes and Schemas) passes; none is skipped.

The checker talks to the Flask app through scim2-client's WSGI engine (``scim2_client.engines.wsgi``: standard
library only, no HTTP server, no httpx); its older Werkzeug engine is deprecated in 0.12 and warns."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
import scim2_tester.filling
from scim2_client.engines.wsgi import WSGISCIMClient
from scim2_tester import Status, check_server


@pytest.fixture
def tester_values(monkeypatch):
    """Tandem's userName is the person's email address (as its published schema says). The checker fills a
    string attribute with a random UUID unless the schema offers examples (canonicalValues), and a schema has
    no way to say "an email address" — so it is taught that one rule, and nothing else."""
    original = scim2_tester.filling.get_random_example_value

    def examples(path):
        if str(path).lower() == "username":
            return f"{uuid.uuid4().hex}@example.com"
        return original(path)

    monkeypatch.setattr(scim2_tester.filling, "get_random_example_value", examples)


def test_scim2_tester_finds_no_failure(app, scim_token, tester_values):
    client = WSGISCIMClient(
        app,
        base_url=app.config["BASE_URL"] + "/scim/v2",
        headers={"Authorization": f"Bearer {scim_token}"},
    )
    results = check_server(client)

    summary = Counter(result.status.name for result in results)
    print(f"\nscim2-tester: {len(results)} checks: {dict(summary)}")
    for result in results:
        if result.status != Status.SUCCESS:
            print(f"  {result.status.name} {result.resource_type or ''} {result.title}: {result.reason}")
            print(f"      {result.data!r}"[:2000])
    assert [r for r in results if r.status in (Status.ERROR, Status.CRITICAL)] == []
    assert [r for r in results if r.status == Status.SKIPPED] == []

    # It really exercised both resource types, every verb and every attribute a client may write.
    ran = {(r.resource_type, r.title) for r in results}
    for resource_type in ("User", "Group"):
        for check in (
            "object_creation",
            "object_query",
            "object_query_without_id",
            "object_list_with_attributes",
            "search_with_attributes",
            "object_replacement",
            "object_deletion",
            "check_add_attribute",
            "check_remove_attribute",
            "check_replace_attribute",
        ):
            assert (resource_type, check) in ran
    patched = {r.data["urn"] for r in results if r.title == "check_replace_attribute" and r.resource_type == "User"}
    assert {"userName", "displayName", "active", "externalId", "roles"} <= patched
    assert sum(1 for r in results if r.resource_type is None) >= 25  # discovery and the unknown URL

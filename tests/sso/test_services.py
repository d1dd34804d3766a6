"""The rules that turn verified claims into a Tandem person, and the settings they read — called directly."""

from __future__ import annotations

import pytest

from program import create_app
from program.extensions import db
from program.sso import services
from program.sso.settings import SettingsError, parse_role_map, read_settings


def _settings(**overrides):
    config = {
        "OIDC_DISCOVERY_URL": "https://idp.example.com/.well-known/openid-configuration",
        "OIDC_CLIENT_ID": "tandem",
        "OIDC_CLIENT_SECRET": "secret",
        "OIDC_PROVIDER_NAME": "Example IdP",
        "OIDC_JIT": True,
        "OIDC_ALLOWED_DOMAINS": "example.com",
        "OIDC_ROLE_CLAIM": "tandem_role",
        "OIDC_GROUPS_CLAIM": "groups",
        "OIDC_ROLE_MAP": "tandem-admins=admin, tandem-hr=hr, leads=leader",
        "OIDC_DEPARTMENT_CLAIM": "department",
    }
    config.update(overrides)
    return read_settings(config)


@pytest.mark.parametrize(
    ("claims", "role"),
    [
        ({}, "staff"),
        ({"groups": ["everyone"]}, "staff"),
        ({"groups": ["leads", "tandem-hr"]}, "hr"),  # the highest mapped role wins
        ({"groups": "leads,tandem-admins"}, "admin"),  # a comma-separated claim counts as a list
        ({"tandem_role": "leader"}, "leader"),  # a role claim may name a role itself
        ({"tandem_role": "tandem-hr", "groups": ["leads"]}, "hr"),
        ({"tandem_role": "superuser"}, "staff"),  # not a role, not mapped
        ({"groups": ["admin"]}, "staff"),  # groups count only through the map
    ],
)
def test_mapped_role(claims, role):
    assert services.mapped_role(claims, _settings()) == role


@pytest.mark.parametrize(
    ("value", "verified"),
    [
        (True, True),
        ("true", True),
        ("TRUE", True),
        (False, False),
        ("false", False),
        (None, False),
        (1, False),
        ("yes", False),
    ],
)
def test_only_the_provider_saying_verified_counts(value, verified):
    assert services.email_is_verified({"email_verified": value}) is verified


def test_department_by_name_in_any_case_if_it_exists(app, make):
    make.department("Marketing")
    settings = _settings()
    assert services.mapped_department({"department": "MARKETING"}, settings).name == "Marketing"
    assert services.mapped_department({"department": "Legal"}, settings) is None
    assert services.mapped_department({}, settings) is None


def test_an_account_linked_to_another_subject_is_not_taken_over_by_email(app, make):
    user = make.user(email="ann@example.com")
    user.oidc_sub = "the-real-ann"
    db.session.flush()
    claims = {"sub": "someone-else", "email": "ann@example.com", "email_verified": True}
    with pytest.raises(services.SignInRefused, match="linked to another Example IdP identity"):
        services.resolve_person(claims, _settings())


def test_resolving_changes_nothing(app, make):
    user = make.user(email="ann@example.com")
    db.session.commit()
    resolution = services.resolve_person(
        {"sub": "s-1", "email": "ann@example.com", "email_verified": True}, _settings()
    )
    assert (resolution.how, resolution.user, resolution.sub) == ("email", user, "s-1")
    assert user.oidc_sub is None
    new = services.resolve_person({"sub": "s-2", "email": "joe@example.com", "email_verified": "true"}, _settings())
    assert (new.how, new.new.email, new.new.name, new.new.role) == ("jit", "joe@example.com", "joe", "staff")
    assert not db.session.dirty and not db.session.new


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"OIDC_CLIENT_SECRET": ""}, "set OIDC_CLIENT_ID and OIDC_CLIENT_SECRET"),
        ({"OIDC_SCOPES": "email profile"}, "must include openid"),
        ({"OIDC_ROLE_MAP": "tandem-admins"}, "not of the form value=role"),
        ({"OIDC_ROLE_MAP": "tandem-admins=root"}, "'root', which is not a role"),
    ],
)
def test_settings_that_cannot_work_are_refused_with_their_name(overrides, message):
    with pytest.raises(SettingsError, match=message):
        _settings(**overrides)


def test_the_app_does_not_start_with_settings_that_cannot_work(database_url):
    with pytest.raises(SettingsError, match="OIDC_ROLE_MAP"):
        create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": database_url,
                "OIDC_DISCOVERY_URL": "https://idp.example.com/.well-known/openid-configuration",
                "OIDC_CLIENT_ID": "tandem",
                "OIDC_CLIENT_SECRET": "secret",
                "OIDC_ROLE_MAP": "admins=superuser",
            }
        )


def test_clock_skew_is_kept_between_0_and_60_seconds():
    assert _settings(OIDC_CLOCK_SKEW_SECONDS=600).leeway == 60
    assert _settings(OIDC_CLOCK_SKEW_SECONDS=-5).leeway == 0


def test_role_map_parsing():
    assert parse_role_map(" a = admin , b=HR ,") == {"a": "admin", "b": "hr"}
    assert parse_role_map("") == {}

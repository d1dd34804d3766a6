"""A provisioning burst through the API — 500 people created, 10 teams filled, 50 people patched, 20 deactivated
(some holding booked seats) — leaves exactly the expected people, teams and seats; and listing people costs the
same number of queries however many there are."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from program.accounts.models import Team, User
from program.activities.models import Participation
from program.activities.services import book_seat
from program.extensions import db
from tests.scim.conftest import ENTERPRISE

PEOPLE, TEAMS, PATCHED, DEACTIVATED, WITH_SEATS = 500, 10, 50, 20, 8


def test_provisioning_burst(scim, make, now, log_entries, count_queries):
    # 500 people, in the two departments HR set up; every tenth is a leader.
    make.department("Sales"), make.department("Marketing")
    db.session.commit()
    ids: list[str] = []
    groups: list[str] = []

    def fill_team(t: int) -> None:
        """Team t gets people 40t to 40t+39, added by one PATCH."""
        group = scim.create_group(f"Team {t}")
        members = [{"value": ids[i]} for i in range(t * 40, (t + 1) * 40)]
        response = scim.patch(f"/Groups/{group['id']}", [{"op": "add", "path": "members", "value": members}])
        assert response.status_code == 200
        groups.append(group["id"])

    for n in range(PEOPLE):
        extra = {"roles": [{"value": "leader"}]} if n % 10 == 0 else {}
        department = "Sales" if n % 2 == 0 else "Marketing"
        made = scim.create_user(
            f"person{n:03}@example.com",
            f"Person {n:03}",
            externalId=f"ext-{n}",
            **{ENTERPRISE: {"department": department}},
            **extra,
        )
        ids.append(made["id"])
        if n == 149:  # a smaller company, with its first team: how many queries does a page of 100 cost?
            fill_team(0)
            with count_queries() as small:
                assert len(scim.get("/Users?count=100").get_json()["Resources"]) == 100

    # 10 teams of 40 (people 0-399), each filled by one PATCH.
    for t in range(1, TEAMS):
        fill_team(t)

    # Eight people of the last 20 hold a seat on a ride-along.
    leaving = ids[-DEACTIVATED:]
    riders = [db.session.get(User, int(i)) for i in leaving[:WITH_SEATS]]
    stayers = [db.session.get(User, int(i)) for i in ids[:WITH_SEATS]]
    seats = {}
    for rider in riders + stayers:
        call = make.ride_along(seats=1)
        seats[rider.id] = book_seat(call.id, rider, now).id
    db.session.commit()

    # 50 patched: renamed, people 0-24 also become HR.
    for n in range(PATCHED):
        operations = [{"op": "replace", "path": "displayName", "value": f"Renamed {n:03}"}]
        if n < 25:
            operations.append({"op": "replace", "path": "roles", "value": [{"value": "hr"}]})
        assert scim.patch(f"/Users/{ids[n]}", operations).status_code == 200

    # 20 leave: half deactivated by PATCH, half deleted.
    for n, user_id in enumerate(leaving):
        response = (
            scim.patch(f"/Users/{user_id}", [{"op": "replace", "path": "active", "value": False}])
            if n % 2 == 0
            else scim.delete(f"/Users/{user_id}")
        )
        assert response.status_code in (200, 204)

    # --- what Tandem holds now -------------------------------------------------------------------
    db.session.expire_all()
    provisioned = select(User).where(User.email.like("person%@example.com"))
    people = {u.email: u for u in db.session.scalars(provisioned)}
    assert len(people) == PEOPLE
    assert sum(u.active for u in people.values()) == PEOPLE - DEACTIVATED
    inactive = sorted(u.email for u in people.values() if not u.active)
    assert inactive == [f"person{n:03}@example.com" for n in range(PEOPLE - DEACTIVATED, PEOPLE)]
    # Leaders are people 0, 10, 20…; people 0-24 became HR (leaders 0, 10 and 20 among them).
    assert Counter(u.role for u in people.values()) == {"staff": PEOPLE - 47 - 25, "leader": 50 - 3, "hr": 25}
    assert all(people[f"person{n:03}@example.com"].name == f"Renamed {n:03}" for n in range(PATCHED))
    assert people["person050@example.com"].name == "Person 050"

    # Teams: 10, each with its 40; each moved to its first member's department (Sales).
    team_sizes = dict(
        db.session.execute(
            select(User.team_id, func.count()).where(User.team_id.is_not(None)).group_by(User.team_id)
        ).all()
    )
    assert sorted(team_sizes.values()) == [40] * TEAMS
    assert {t.department.name for t in db.session.scalars(select(Team))} == {"Sales"}
    assert all(people[f"person{n:03}@example.com"].department.name == "Sales" for n in range(400))
    assert sum(1 for u in people.values() if u.team_id is None) == 100

    # Seats: exactly the eight leavers' were given up; the stayers keep theirs.
    states = {uid: db.session.get(Participation, pid).state for uid, pid in seats.items()}
    assert [states[r.id] for r in riders] == ["cancelled_by_user"] * WITH_SEATS
    assert [states[s.id] for s in stayers] == ["booked"] * WITH_SEATS

    # What the client sees: deleted people are gone, deactivated ones say so.
    listing = scim.get("/Users?count=0").get_json()
    hosts = db.session.scalar(select(func.count()).select_from(User).where(User.email.not_like("person%"))) or 0
    assert listing["totalResults"] == PEOPLE - DEACTIVATED // 2 + hosts
    assert scim.get("/Users?filter=active%20eq%20false&count=0").get_json()["totalResults"] == DEACTIVATED // 2

    # The log: one entry per person created, per person patched, per move into a team, per leaver.
    actions = Counter((e.resource_type, e.action) for e in log_entries())
    assert actions[("User", "created")] == PEOPLE
    assert actions[("User", "updated")] == 400 + PATCHED
    assert actions[("User", "deactivated")] == DEACTIVATED // 2
    assert actions[("User", "deleted")] == DEACTIVATED // 2
    assert actions[("Group", "created")] == TEAMS and actions[("Group", "updated")] == TEAMS

    # A page of 100 costs what it cost with 150 people, now with 500, teams, managers and deletions.
    with count_queries() as large:
        page = scim.get("/Users?count=100").get_json()
    assert len(page["Resources"]) == 100 and page["totalResults"] > 450
    with count_queries() as filtered:
        assert len(scim.get("/Users?count=100&filter=userName%20sw%20%22person%22").get_json()["Resources"]) == 100
    print(f"queries for GET /Users?count=100: {small.count} with 150 people, {large.count} with {PEOPLE}")
    assert large.count == small.count == filtered.count
    assert large.count <= 6

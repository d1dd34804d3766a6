"""People import: preview with an error per bad row, all-or-nothing, re-import updates, late managers."""

from __future__ import annotations

import csv
import io

from program.accounts import people_import
from program.accounts.models import Team, User
from program.errors import ValidationFailed
from program.extensions import db

HEADER = "email,name,department,team,role,manager_email,timezone\n"


def _setup(make):
    make.department("Sales")
    make.department("Marketing")
    return make.user(role="admin", department=None, email="boss.admin@example.com")


def test_sample_csv_imports_cleanly(make, now):
    admin = _setup(make)
    preview = people_import.preview_people_import(people_import.SAMPLE_CSV, "Europe/London")
    assert preview.ok, [r.errors for r in preview.rows]
    people_import.apply_people_import(admin, people_import.SAMPLE_CSV, "Europe/London")
    db.session.commit()
    mia = db.session.scalar(db.select(User).where(User.email == "mia.marketer@example.com"))
    # Her manager appears later in the file than she does.
    assert mia.manager.email == "max.lead@example.com"
    assert mia.team.name == "Demand Gen" and mia.timezone == "America/New_York"


def test_every_bad_row_gets_its_error(make):
    _setup(make)
    make.user(email="existing@example.com")
    content = HEADER + (
        "not-an-email,Bad Email,Sales,,staff,,UTC\n"
        "a@example.com,A,Sales,,staff,nobody@example.com,UTC\n"
        "b@example.com,B,Sales,,wizard,,UTC\n"
        "c@example.com,C,Sales,,staff,,Mars/Olympus\n"
        "a@example.com,A again,Sales,,staff,,UTC\n"
        "d@example.com,D,Finance,,staff,,UTC\n"
        "e@example.com,E,Sales,,staff,existing@example.com,\n"
    )
    preview = people_import.preview_people_import(content, "Europe/London")
    errors = {r.line: " ".join(r.errors) for r in preview.rows}
    assert "invalid email" in errors[2]
    assert "unknown manager 'nobody@example.com'" in errors[3]
    assert "unknown role 'wizard'" in errors[4]
    assert "unknown timezone 'Mars/Olympus'" in errors[5]
    assert "duplicate email 'a@example.com' (also on line 3)" in errors[6]
    assert "unknown department 'Finance'" in errors[7]
    assert errors[8] == ""  # an existing manager and the default timezone are fine
    assert preview.error_count == 6 and not preview.ok


def test_bad_file_imports_nothing(make):
    admin = _setup(make)
    content = HEADER + "ok@example.com,Ok,Sales,,staff,,UTC\nbad,Bad,Sales,,staff,,UTC\n"
    try:
        people_import.apply_people_import(admin, content, "UTC")
    except ValidationFailed as exc:
        assert "nothing was imported" in exc.message
    else:
        raise AssertionError("expected a refusal")
    db.session.rollback()
    assert db.session.scalar(db.select(User).where(User.email == "ok@example.com")) is None


def test_reimport_updates_instead_of_duplicating(make):
    admin = _setup(make)
    people_import.apply_people_import(admin, people_import.SAMPLE_CSV, "UTC")
    db.session.commit()
    count = db.session.scalar(db.select(db.func.count(User.id)))
    again = people_import.preview_people_import(people_import.SAMPLE_CSV, "UTC")
    assert again.count("unchanged") == 4
    changed = people_import.SAMPLE_CSV.replace("Sam Rep,Sales,Enterprise,staff", "Samuel Rep,Sales,Enterprise,leader")
    preview = people_import.preview_people_import(changed, "UTC")
    assert preview.count("update") == 1
    people_import.apply_people_import(admin, changed, "UTC")
    db.session.commit()
    assert db.session.scalar(db.select(db.func.count(User.id))) == count
    sam = db.session.scalar(db.select(User).where(User.email == "sam.rep@example.com"))
    assert sam.name == "Samuel Rep" and sam.role == "leader"
    assert db.session.scalar(db.select(db.func.count(Team.id)).where(Team.name == "Enterprise")) == 1


def test_header_problems_and_circles(make):
    _setup(make)
    assert (
        "lacks the column(s) department"
        in people_import.preview_people_import("email,name\nx@example.com,X\n", "UTC").file_errors[0]
    )
    assert people_import.preview_people_import("", "UTC").file_errors == ["The file is empty."]
    circle = HEADER + "a@example.com,A,Sales,,staff,b@example.com,UTC\nb@example.com,B,Sales,,staff,a@example.com,UTC\n"
    preview = people_import.preview_people_import(circle, "UTC")
    assert all("circle" in " ".join(r.errors) for r in preview.rows)


def test_upload_preview_confirm_through_pages(as_role, make):
    c, admin = as_role("admin")
    make.department("Marketing")
    db.session.commit()
    sample = c.get("/admin/people/import/sample.csv")
    assert sample.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(sample.get_data(as_text=True))))
    assert rows[0]["email"] == "ana.lead@example.com"
    resp = c.post(
        "/admin/people/import",
        data={"file": (io.BytesIO(sample.data), "people.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302
    preview_url = resp.headers["Location"]
    page = c.get(preview_url)
    assert b"All 4 rows are valid" in page.data and b"4 to add" in page.data
    assert db.session.scalar(db.select(User).where(User.email == "ana.lead@example.com")) is None
    done = c.post(preview_url)
    assert done.status_code == 302
    assert db.session.scalar(db.select(User).where(User.email == "ana.lead@example.com")) is not None
    assert c.get(preview_url).status_code == 404  # a batch is applied once


def test_bad_upload_shows_errors_and_cannot_confirm(as_role, make):
    c, _ = as_role("admin")
    db.session.commit()
    bad = (HEADER + "x,Bad,Sales,,staff,,UTC\n").encode()
    resp = c.post(
        "/admin/people/import", data={"file": (io.BytesIO(bad), "people.csv")}, content_type="multipart/form-data"
    )
    page = c.get(resp.headers["Location"])
    assert b"invalid email" in page.data and b"Nothing will be imported" in page.data
    c.post(resp.headers["Location"])
    assert db.session.scalar(db.select(User).where(User.name == "Bad")) is None
    not_utf8 = c.post(
        "/admin/people/import",
        data={"file": (io.BytesIO("é".encode("latin-1") + b",x\n"), "p.csv")},
        content_type="multipart/form-data",
    )
    assert not_utf8.status_code == 422 and b"not UTF-8" in not_utf8.data
    wrong_type = c.post(
        "/admin/people/import", data={"file": (io.BytesIO(b"x"), "p.exe")}, content_type="multipart/form-data"
    )
    assert wrong_type.status_code == 422 and b"Upload a .csv file" in wrong_type.data


def test_another_admins_batch_is_404(as_role, make, login):
    c, admin = as_role("admin")
    other = make.user(role="admin")
    resp = c.post(
        "/admin/people/import",
        data={"file": (io.BytesIO(people_import.SAMPLE_CSV.encode()), "p.csv")},
        content_type="multipart/form-data",
    )
    assert login(other).get(resp.headers["Location"]).status_code == 404

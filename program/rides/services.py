"""Offering, changing and browsing ride-along calls, and what the ride-along kind says about itself (its
``KindInfo``). Seats, waitlist and attendance are the shared core's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from program.accounts.models import Role, User
from program.activities import services as core
from program.activities.kinds import KindInfo
from program.activities.models import Activity, ActivityKind, ActivityStatus, Participation, State
from program.activities.permissions import can_manage_activity
from program.activities.times import validate_time_window
from program.errors import NotAllowed, ValidationFailed
from program.extensions import db
from program.rides.models import CALL_TYPE_LABELS, CALL_TYPES, FUNNEL_STAGES, SEGMENTS, RideAlongCall
from program.timeutil import UTC

MAX_SEATS = 5
DEFAULT_CUTOFF_HOURS = 12


def can_offer_calls(user: User) -> bool:
    """Sales people offer their calls; their leaders and admins may offer on a rep's behalf."""
    return user.function == "sales" or user.role == Role.ADMIN.value


def can_offer_for(actor: User, host: User) -> bool:
    if host.function != "sales" or not host.active:
        return False
    return actor.id == host.id or host.manager_id == actor.id or actor.role == Role.ADMIN.value


def hosts_actor_may_offer_for(actor: User) -> list[User]:
    stmt = select(User).where(User.active.is_(True)).order_by(User.name)
    if actor.role != Role.ADMIN.value:
        stmt = stmt.where((User.id == actor.id) | (User.manager_id == actor.id))
    return [u for u in db.session.scalars(stmt) if u.function == "sales"]


_UNSET = object()


def reveals_account(activity: Activity, viewer: User, participation=_UNSET) -> bool:
    """A hidden account name is shown only to people with a seat, the host side, HR and admins.

    Lists pass the viewer's ``participation`` (or None), already loaded, to avoid a query per row.
    """
    ride = activity.ride
    if ride is None or not ride.hide_account:
        return True
    if can_manage_activity(viewer, activity) or viewer.role in (Role.HR.value, Role.ADMIN.value):
        return True
    p = core.find_participation(activity.id, viewer.id) if participation is _UNSET else participation
    return p is not None and p.state in (State.BOOKED.value, State.ATTENDED.value, State.NO_SHOW.value)


def reveals_accounts(
    activities: list[Activity], viewer: User, places: dict[int, Participation | None] | None = None
) -> dict[int, bool]:
    """``reveals_account`` for many ride-alongs: the viewer's seats on the hidden ones read in one query (none
    when the caller passes the viewer's ``places``, activity id -> participation or None)."""
    hidden = [a.id for a in activities if a.ride is not None and a.ride.hide_account]
    if places is not None:
        mine = {aid: p for aid, p in places.items() if p is not None}
    else:
        mine = participations_for(viewer, hidden) if hidden else {}
    return {a.id: reveals_account(a, viewer, mine.get(a.id)) for a in activities}


def anonymous_account(segment: str) -> str:
    return f"{'an' if segment[:1].lower() in 'aeiou' else 'a'} {segment} prospect"


def ride_summary(activity: Activity, reveal: bool) -> str:
    ride = activity.ride
    account = ride.account_name if reveal else anonymous_account(ride.segment)
    return f"Ride-along: {CALL_TYPE_LABELS.get(ride.call_type, ride.call_type)} with {account} ({activity.host.name})"


RIDE_ALONG_KIND = KindInfo(
    summary=ride_summary,
    endpoint="rides.detail",
    reveals_private=reveals_account,
    reveals_private_many=reveals_accounts,
    bookable=True,
)


@dataclass
class CallData:
    host_id: int | None
    account_name: str
    segment: str
    funnel_stage: str
    call_type: str
    day: date | None
    start: time | None
    end: time | None
    timezone: str
    location: str = ""
    video_url: str = ""
    seats: int | None = 2
    cutoff_hours: int | None = DEFAULT_CUTOFF_HOURS
    briefing: str = ""
    hide_account: bool = False


def _validate(actor: User, data: CallData, now: datetime, existing: Activity | None) -> tuple[dict[str, str], dict]:
    errors: dict[str, str] = {}
    values: dict = {}
    host = db.session.get(User, data.host_id) if data.host_id else None
    if host is None:
        errors["host_id"] = "Choose the rep whose call this is."
    elif existing is None and not can_offer_for(actor, host):
        errors["host_id"] = "You can offer only your own calls, or those of people you manage."
    values["host"] = host
    data.account_name = (data.account_name or "").strip()
    if not data.account_name:
        errors["account_name"] = "Name the account or prospect."
    if data.segment not in SEGMENTS:
        errors["segment"] = "Choose a customer segment."
    if data.funnel_stage not in FUNNEL_STAGES:
        errors["funnel_stage"] = "Choose a funnel stage."
    if data.call_type not in dict(CALL_TYPES):
        errors["call_type"] = "Choose a call type."
    time_errors, starts, ends = validate_time_window(
        data.day,
        data.start,
        data.end,
        data.timezone,
        now,
        noun="call",
        max_hours=8,
        current_start=existing.starts_at if existing is not None else None,
    )
    errors.update(time_errors)
    if starts is not None:
        values["starts_at"], values["ends_at"] = starts, ends
    if data.seats is None or not 1 <= data.seats <= MAX_SEATS:
        errors["seats"] = f"Offer between 1 and {MAX_SEATS} seats."
    elif existing is not None:
        booked = core.taken_seats(existing.id, now)
        if data.seats < booked:
            errors["seats"] = f"{booked} seat(s) are taken; you can't offer fewer. Cancel the call instead if needed."
    if data.cutoff_hours is None or not 0 <= data.cutoff_hours <= 168:
        errors["cutoff_hours"] = "Give a cutoff between 0 and 168 hours before the start."
    data.location = (data.location or "").strip()
    data.video_url = (data.video_url or "").strip()
    if not data.location and not data.video_url:
        errors["location"] = "Give an address or a video link."
    if data.video_url:
        parts = urlsplit(data.video_url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            errors["video_url"] = "Give a full link starting with https://."
    return errors, values


def offer_call(actor: User, data: CallData, now: datetime) -> Activity:
    """A rep (or their leader) offers a sales call as a ride-along."""
    if not can_offer_calls(actor):
        raise NotAllowed("Only sales staff, their leaders and admins offer calls.")
    errors, values = _validate(actor, data, now, None)
    if errors:
        raise ValidationFailed("Please correct the marked fields.", errors=errors)
    starts_at = values["starts_at"]
    activity = Activity(
        kind=ActivityKind.RIDE_ALONG.value,
        title=data.account_name,
        host=values["host"],
        created_by=actor,
        starts_at=starts_at,
        ends_at=values["ends_at"],
        timezone=data.timezone,
        location=data.location,
        video_url=data.video_url,
        briefing=(data.briefing or "").strip(),
        seats=data.seats,
        booking_cutoff_at=starts_at - timedelta(hours=data.cutoff_hours),
        created_at=now,
        updated_at=now,
    )
    db.session.add(activity)
    db.session.flush()
    db.session.add(
        RideAlongCall(
            activity=activity,
            account_name=data.account_name,
            segment=data.segment,
            funnel_stage=data.funnel_stage,
            call_type=data.call_type,
            hide_account=data.hide_account,
        )
    )
    db.session.flush()
    return activity


def update_call(actor: User, activity: Activity, data: CallData, now: datetime) -> Activity:
    """The host side edits a call. A new time or place sends riders an updated invite; new seats go to the waitlist."""
    if not can_manage_activity(actor, activity):
        raise NotAllowed("You can't edit this call.")
    if activity.is_cancelled:
        raise ValidationFailed("This call was cancelled; it can't be edited.")
    if activity.has_started(now):
        raise ValidationFailed("This call has started; it can't be edited.")
    data.host_id = activity.host_id
    activity = core.lock_activity(activity.id)
    errors, values = _validate(actor, data, now, activity)
    if errors:
        raise ValidationFailed("Please correct the marked fields.", errors=errors)
    time_changed = values["starts_at"] != activity.starts_at or values["ends_at"] != activity.ends_at
    place_changed = data.location != activity.location or data.video_url != activity.video_url
    more_seats = data.seats > (activity.seats or 0)
    activity.title = data.account_name
    activity.starts_at, activity.ends_at = values["starts_at"], values["ends_at"]
    activity.timezone = data.timezone
    activity.location, activity.video_url = data.location, data.video_url
    activity.briefing = (data.briefing or "").strip()
    activity.seats = data.seats
    activity.booking_cutoff_at = values["starts_at"] - timedelta(hours=data.cutoff_hours)
    activity.updated_at = now
    ride = activity.ride
    ride.account_name, ride.segment, ride.funnel_stage = data.account_name, data.segment, data.funnel_stage
    ride.call_type, ride.hide_account = data.call_type, data.hide_account
    db.session.flush()
    core.reschedule_or_update(activity, actor, now, time_changed=time_changed, place_changed=place_changed)
    if more_seats:
        core.offer_next(activity, now)
    return activity


def call_data_from(activity: Activity) -> CallData:
    zone = ZoneInfo(activity.timezone)
    start, end = activity.starts_at.astimezone(zone), activity.ends_at.astimezone(zone)
    return CallData(
        host_id=activity.host_id,
        account_name=activity.ride.account_name,
        segment=activity.ride.segment,
        funnel_stage=activity.ride.funnel_stage,
        call_type=activity.ride.call_type,
        day=start.date(),
        start=start.time().replace(tzinfo=None),
        end=end.time().replace(tzinfo=None),
        timezone=activity.timezone,
        location=activity.location,
        video_url=activity.video_url,
        seats=activity.seats,
        cutoff_hours=int((activity.starts_at - activity.booking_cutoff_at).total_seconds() // 3600),
        briefing=activity.briefing,
        hide_account=activity.ride.hide_account,
    )


def participations_for(user: User, activity_ids: list[int]) -> dict[int, Participation]:
    if not activity_ids:
        return {}
    rows = db.session.scalars(
        select(Participation).where(Participation.user_id == user.id, Participation.activity_id.in_(activity_ids))
    )
    return {p.activity_id: p for p in rows}


def count_rides() -> int:
    return db.session.scalar(select(func.count(RideAlongCall.activity_id)))


def _contains(text: str) -> str:
    """A LIKE pattern matching ``text`` literally anywhere ('/' is the escape character)."""
    return "%" + text.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


@dataclass(frozen=True)
class CallFilter:
    """The browse page's filters; ``day_from``/``day_to`` are local days in ``tz`` (the viewer's)."""

    segment: str = ""
    stage: str = ""
    call_type: str = ""
    rep: str = ""  # a piece of the rep's (host's) name, any case
    day_from: date | None = None
    day_to: date | None = None
    free_only: bool = False
    past: bool = False


def browse_calls(f: CallFilter, tz: str, now: datetime, page: int, per_page: int) -> Pagination:
    """One page of calls matching the filters: upcoming scheduled ones soonest first (only those with a free
    seat when ``free_only``), or past ones latest first."""
    zone = ZoneInfo(tz)
    stmt = (
        select(Activity)
        .join(RideAlongCall, RideAlongCall.activity_id == Activity.id)
        .options(joinedload(Activity.host))
        .where(Activity.kind == ActivityKind.RIDE_ALONG.value)
    )
    if f.segment:
        stmt = stmt.where(RideAlongCall.segment == f.segment)
    if f.stage:
        stmt = stmt.where(RideAlongCall.funnel_stage == f.stage)
    if f.call_type:
        stmt = stmt.where(RideAlongCall.call_type == f.call_type)
    if f.rep:
        stmt = stmt.where(Activity.host.has(User.name.ilike(_contains(f.rep), escape="/")))
    if f.day_from:
        stmt = stmt.where(Activity.starts_at >= datetime.combine(f.day_from, time(0), zone).astimezone(UTC))
    if f.day_to:
        stmt = stmt.where(
            Activity.starts_at < datetime.combine(f.day_to + timedelta(days=1), time(0), zone).astimezone(UTC)
        )
    if f.past:
        stmt = stmt.where(Activity.starts_at < now).order_by(Activity.starts_at.desc(), Activity.id.desc())
    else:
        stmt = stmt.where(Activity.starts_at >= now, Activity.status == ActivityStatus.SCHEDULED.value)
        if f.free_only:
            taken = (
                select(func.count(Participation.id))
                .where(Participation.activity_id == Activity.id, core.seat_taken_clause(now))
                .scalar_subquery()
            )
            stmt = stmt.where(taken < Activity.seats)
        stmt = stmt.order_by(Activity.starts_at, Activity.id)
    return db.paginate(stmt, page=page, per_page=per_page, error_out=False)

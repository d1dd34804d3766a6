"""Personal calendar feeds: what a person books and hosts, as a subscribable ICS."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, union
from sqlalchemy.orm import joinedload

from program.accounts.models import User
from program.activities.ics import FeedEntry, feed_ics
from program.activities.kinds import activity_links
from program.activities.models import ON_CALENDAR, Activity, ActivityStatus, Participation, State
from program.calendar.models import CalendarFeed, hash_feed_token, new_feed_token
from program.extensions import db
from program.web import absolute_url

CANCELLED_KEPT = timedelta(days=30)
PAST_KEPT = timedelta(days=180)


def feed_for(user: User) -> CalendarFeed | None:
    """The user's feed, if they have made one (its address can't be read back: only its hash is kept)."""
    return db.session.scalar(select(CalendarFeed).where(CalendarFeed.user_id == user.id))


def rotate_feed(user: User, now: datetime) -> str:
    """Make the user's feed address, or a new one: the old one stops working at once.

    Returns the token for the address. It is not stored (only its SHA-256 digest is), so the caller
    shows it this once."""
    token = new_feed_token()
    feed = feed_for(user)
    if feed is None:
        feed = CalendarFeed(user=user, token_hash=hash_feed_token(token), rotated_at=now)
        db.session.add(feed)
    else:
        feed.token_hash = hash_feed_token(token)
        feed.rotated_at = now
    db.session.flush()
    return token


def user_for_token(token: str) -> User | None:
    """The active user whose feed address carries this token, or None. One query."""
    if not token:
        return None
    return db.session.scalar(
        select(User)
        .join(CalendarFeed, CalendarFeed.user_id == User.id)
        .where(CalendarFeed.token_hash == hash_feed_token(token), User.active.is_(True))
    )


class _PageUrls:
    """Each kind's page address, built once per kind and then completed per activity by string joining:
    URL building costs far more than the ICS line it fills."""

    MARK = 987654321  # an id no URL part can contain by accident, cut out of the one URL built

    def __init__(self) -> None:
        self._parts: dict[str, tuple[str, str]] = {}

    def __call__(self, endpoint: str, activity_id: int) -> str:
        parts = self._parts.get(endpoint)
        if parts is None:
            before, _, after = absolute_url(endpoint, activity_id=self.MARK).rpartition(str(self.MARK))
            parts = self._parts[endpoint] = (before, after)
        return f"{parts[0]}{activity_id}{parts[1]}"


def feed_entries(user: User, now: datetime) -> list[FeedEntry]:
    """Booked and hosted activities (last 180 days onward); cancelled ones stay 30 days as CANCELLED.

    One query whatever the number of events: the activities the person takes part in or hosts, each with its
    kind's detail, its host and the person's own place on it (which also says whether a hidden account name
    may be shown)."""
    recent = now - PAST_KEPT
    cancelled_since = now - CANCELLED_KEPT
    theirs = union(
        select(Participation.activity_id).where(Participation.user_id == user.id),
        select(Activity.id).where(Activity.host_id == user.id),
    )
    hosted = and_(
        Activity.host_id == user.id,
        or_(Activity.status == ActivityStatus.SCHEDULED.value, Activity.cancelled_at >= cancelled_since),
    )
    taking_part = or_(
        Participation.state.in_(ON_CALENDAR),
        Participation.state.in_([State.CANCELLED_BY_USER.value, State.CANCELLED_BY_HOST.value])
        & (Participation.state_changed_at >= cancelled_since),
    )
    rows = db.session.execute(
        select(Activity, Participation)
        .outerjoin(Participation, and_(Participation.activity_id == Activity.id, Participation.user_id == user.id))
        .options(joinedload(Activity.host))
        .where(Activity.id.in_(theirs), Activity.ends_at >= recent, or_(hosted, taking_part))
        .order_by(Activity.starts_at, Activity.id)
    ).all()
    links = activity_links([a for a, _ in rows], user, places={a.id: p for a, p in rows})
    page_url = _PageUrls()
    entries = []
    for a, p in rows:
        is_host = a.host_id == user.id and (
            a.status == ActivityStatus.SCHEDULED.value
            or (a.cancelled_at is not None and a.cancelled_at >= cancelled_since)
        )
        # The host sees the activity as it is; a participant also sees it cancelled when their place is.
        cancelled = a.is_cancelled or (not is_host and p.state not in ON_CALENDAR)
        link = links[a.id]
        url = page_url(link.endpoint, a.id) if link.endpoint else ""
        entries.append(FeedEntry(a, link.summary, a.briefing or "", url, cancelled))
    return entries


def build_feed(user: User, now: datetime, org_name: str) -> bytes:
    return feed_ics(feed_entries(user, now), now=now, name=f"Tandem · {org_name}")

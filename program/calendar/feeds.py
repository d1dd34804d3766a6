"""Personal calendar feeds: what a person books and hosts, as a subscribable ICS."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from program.accounts.models import User
from program.activities.ics import FeedEntry, feed_ics
from program.activities.kinds import kind_info, summary_for
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
    """The active user whose feed address carries this token, or None."""
    if not token:
        return None
    feed = db.session.scalar(select(CalendarFeed).where(CalendarFeed.token_hash == hash_feed_token(token)))
    if feed is None or not feed.user.active:
        return None
    return feed.user


def feed_entries(user: User, now: datetime) -> list[FeedEntry]:
    """Booked and hosted activities (last 180 days onward); cancelled ones stay 30 days as CANCELLED."""
    recent = now - PAST_KEPT
    cancelled_since = now - CANCELLED_KEPT
    participating = list(
        db.session.scalars(
            select(Participation)
            .join(Activity)
            .options(joinedload(Participation.activity).joinedload(Activity.host))
            .where(
                Participation.user_id == user.id,
                Activity.ends_at >= recent,
                or_(
                    Participation.state.in_(ON_CALENDAR),
                    Participation.state.in_([State.CANCELLED_BY_USER.value, State.CANCELLED_BY_HOST.value])
                    & (Participation.state_changed_at >= cancelled_since),
                ),
            )
        )
    )
    hosted = list(
        db.session.scalars(
            select(Activity)
            .options(joinedload(Activity.host))
            .where(
                Activity.host_id == user.id,
                Activity.ends_at >= recent,
                or_(Activity.status == ActivityStatus.SCHEDULED.value, Activity.cancelled_at >= cancelled_since),
            )
        )
    )
    entries: dict[int, FeedEntry] = {}
    for p in participating:
        a = p.activity
        cancelled = a.is_cancelled or p.state not in ON_CALENDAR
        if not cancelled and p.state == State.CANCELLED_BY_USER.value:
            continue
        url = absolute_url(kind_info(a).endpoint, activity_id=a.id)
        entries[a.id] = FeedEntry(a, summary_for(a, user), a.briefing or "", url, cancelled)
    for a in hosted:
        url = absolute_url(kind_info(a).endpoint, activity_id=a.id)
        entries[a.id] = FeedEntry(a, summary_for(a, user), a.briefing or "", url, a.is_cancelled)
    return sorted(entries.values(), key=lambda e: e.activity.starts_at)


def build_feed(user: User, now: datetime, org_name: str) -> bytes:
    return feed_ics(feed_entries(user, now), now=now, name=f"Tandem · {org_name}")

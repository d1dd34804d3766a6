"""What each kind of activity says about itself (title for a viewer, page URL). Kinds register here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from program.accounts.models import User
from program.activities.models import Activity


@dataclass(frozen=True)
class KindInfo:
    # summary(activity, reveal_private) -> the title shown in mail and calendars
    summary: Callable[[Activity, bool], str]
    # endpoint of the activity's page, called with activity_id=
    endpoint: str
    # may this viewer see private detail (e.g. a hidden account name)?
    reveals_private: Callable[[Activity, User], bool]
    # may people book a seat themselves (ride-alongs), or do they take part by invitation/pairing only?
    bookable: bool = False
    # does the kind take attendance on its own pages (meetings), rather than through the shared route?
    own_attendance: bool = False
    # What is special to the kind when one of its participations changes state, called by the core right after
    # the change (same transaction): on_transition(p, old_state=, new_state=, actor=, now=, note=).
    # A kind reacts here instead of subscribing to the global signal and filtering by kind.
    on_transition: Callable[..., None] | None = None
    # ... and when one of its activities was rescheduled, updated or cancelled:
    # on_activity_changed(activity, change=, actor=, now=, affected=).
    on_activity_changed: Callable[..., None] | None = None


_KINDS: dict[str, KindInfo] = {}


def register_kind(kind: str, info: KindInfo) -> None:
    """Called from the kind's ``init_app``; registering again replaces (tests build several apps)."""
    _KINDS[kind] = info


def kind_transitioned(p, **change) -> None:
    """The core tells the participation's kind about a state change (see ``KindInfo.on_transition``)."""
    info = _KINDS.get(p.activity.kind)
    if info and info.on_transition:
        info.on_transition(p, **change)


def kind_activity_changed(activity: Activity, **change) -> None:
    """The core tells the activity's kind it was rescheduled, updated or cancelled."""
    info = _KINDS.get(activity.kind)
    if info and info.on_activity_changed:
        info.on_activity_changed(activity, **change)


def kind_info(activity: Activity) -> KindInfo:
    return _KINDS[activity.kind]


def summary_for(activity: Activity, viewer: User) -> str:
    info = kind_info(activity)
    return info.summary(activity, info.reveals_private(activity, viewer))


def is_bookable(activity: Activity) -> bool:
    info = _KINDS.get(activity.kind)
    return bool(info and info.bookable)


def has_own_attendance(activity: Activity) -> bool:
    info = _KINDS.get(activity.kind)
    return bool(info and info.own_attendance)

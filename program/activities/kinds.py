"""What each kind of activity says about itself (title for a viewer, page URL, hooks the core calls after a
change). Each kind registers its ``KindInfo`` here from its own ``init_app``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from program.accounts.models import User
from program.activities.models import Activity, Participation


@dataclass(frozen=True)
class KindInfo:
    # summary(activity, reveal_private) -> the title shown in mail and calendars
    summary: Callable[[Activity, bool], str]
    # endpoint of the activity's page, called with activity_id=
    endpoint: str
    # may this viewer see private detail (e.g. a hidden account name)?
    reveals_private: Callable[[Activity, User], bool]
    # ... for many activities of this kind at once, in a fixed number of queries (lists use it through
    # ``activity_links``): reveals_private_many(activities, viewer, places) -> {activity id: bool}, where
    # ``places`` is None or the viewer's participation on each activity (None: none), already read by the caller
    reveals_private_many: Callable[[list[Activity], User, dict | None], dict[int, bool]] | None = None
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


def kind_endpoint(kind: str) -> str:
    """The endpoint of a kind's activity page (called with activity_id=)."""
    return _KINDS[kind].endpoint


def summary_for(activity: Activity, viewer: User) -> str:
    info = kind_info(activity)
    return info.summary(activity, info.reveals_private(activity, viewer))


@dataclass(frozen=True)
class ActivityLink:
    summary: str
    endpoint: str | None  # called with activity_id=; None when the kind has no page


def activity_links(
    activities: Iterable[Activity], viewer: User, places: dict[int, Participation | None] | None = None
) -> dict[int, ActivityLink]:
    """Each activity's summary as this viewer may see it (hidden account names stay hidden), and its page.

    Same answer as ``summary_for``, but a kind with ``reveals_private_many`` answers for all its rows at once
    rather than with a query per row. Activities must come with what their kind's summary reads loaded.
    ``places``: the viewer's participation on every one of the activities (None where they have none), when
    the caller read them already — then no kind needs to look them up.
    """
    by_kind: dict[str, list[Activity]] = {}
    for a in {a.id: a for a in activities}.values():
        by_kind.setdefault(a.kind, []).append(a)
    links: dict[int, ActivityLink] = {}
    for kind, group in by_kind.items():
        info = _KINDS.get(kind)
        if info is None:  # a kind whose package has not registered itself
            links.update((a.id, ActivityLink(a.title, None)) for a in group)
            continue
        if info.reveals_private_many is not None:
            reveal = info.reveals_private_many(group, viewer, places)
        else:
            reveal = {a.id: info.reveals_private(a, viewer) for a in group}
        links.update((a.id, ActivityLink(info.summary(a, reveal[a.id]), info.endpoint)) for a in group)
    return links


def is_bookable(activity: Activity) -> bool:
    info = _KINDS.get(activity.kind)
    return bool(info and info.bookable)


def has_own_attendance(activity: Activity) -> bool:
    info = _KINDS.get(activity.kind)
    return bool(info and info.own_attendance)

"""What the writer decides about who reads their debrief outside it, and what the form says before they submit.

- only text answers to questions flagged "shared in the learnings feed" are shown in the feed and the
  tactics triage (by default "what I learned" and the tactic; HR and admins change it per template version);
- a writer can keep one debrief out of the feed: then none of its answers is shown anywhere outside it
  (its reason codes still count in the insight's numbers, but its words are not quoted);
- a shadow-day debrief is shared with leaders, HR and admins only, unless its writer ticks
  "Share with everyone".

The read side (``program/insight/permissions.py``) applies the same rules to the feed, the tactics and the
insight; this module stores the choice and words it on the form.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from program.activities.models import ActivityKind
from program.debriefs.models import Debrief, DebriefQuestion, QuestionType

SHADOW_DAY = ActivityKind.SHADOW_DAY.value
# Only text can be shown in the feed; the template editor refuses the flag on other types.
SHAREABLE_TYPES = (QuestionType.SHORT_TEXT.value, QuestionType.LONG_TEXT.value)

EVERYONE_NOTE = "Shared with everyone in the learnings feed, with your name."
LEADERS_NOTE = (
    "Shared in the learnings feed with leaders, HR and admins, with your name — "
    "with everyone if you tick “Share with everyone” below."
)


@dataclass(frozen=True)
class SharingChoice:
    """What the writer chose on the form."""

    keep_out_of_feed: bool = False
    share_with_everyone: bool = False  # shadow days only

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> SharingChoice:
        return cls(
            keep_out_of_feed=form.get("keep_out_of_feed") == "1",
            share_with_everyone=form.get("share_with_everyone") == "1",
        )

    @classmethod
    def of(cls, debrief: Debrief | None) -> SharingChoice:
        if debrief is None:
            return cls()
        return cls(bool(debrief.keep_out_of_feed), bool(debrief.share_with_everyone))


def apply_choice(debrief: Debrief, kind: str, choice: SharingChoice) -> None:
    """Store the writer's choice; "share with everyone" means something on shadow days only."""
    debrief.keep_out_of_feed = choice.keep_out_of_feed
    debrief.share_with_everyone = choice.share_with_everyone and kind == SHADOW_DAY


# --- what the form says ----------------------------------------------------------------------


def share_notes(questions: Sequence[DebriefQuestion], kind: str) -> dict[int, str]:
    """question id -> the note shown beside each question whose answer is shared."""
    note = LEADERS_NOTE if kind == SHADOW_DAY else EVERYONE_NOTE
    return {q.id: note for q in questions if q.shared_in_feed and q.qtype in SHAREABLE_TYPES}


def share_summary(questions: Sequence[DebriefQuestion], kind: str, choice: SharingChoice) -> str:
    """The one line above the submit button: which answers go where, given what is ticked."""
    shared = [q.prompt for q in questions if q.shared_in_feed and q.qtype in SHAREABLE_TYPES]
    if not shared:
        return "When you submit, none of your answers is shared in the learnings feed."
    if choice.keep_out_of_feed:
        return "This debrief is kept out of the learnings feed: when you submit, none of your answers is shared there."
    names = (
        " and ".join(f"“{p}”" for p in shared)
        if len(shared) <= 2
        else (", ".join(f"“{p}”" for p in shared[:-1]) + f" and “{shared[-1]}”")
    )
    if kind == SHADOW_DAY and not choice.share_with_everyone:
        audience = "leaders, HR and admins"
    else:
        audience = "everyone"
    return f"When you submit, your answers to {names} are shown with your name to {audience} in the learnings feed."

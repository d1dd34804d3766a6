"""Domain events of the activity core. Mail, calendar and (later) debriefs subscribe; the core imports none of them."""

from blinker import Namespace

_signals = Namespace()

# sender: Participation; kwargs: old_state, new_state, actor, now, note
participation_changed = _signals.signal("participation-changed")
# sender: Activity; kwargs: change ("rescheduled" | "cancelled" | "updated"), actor, now, affected (list[Participation])
activity_changed = _signals.signal("activity-changed")

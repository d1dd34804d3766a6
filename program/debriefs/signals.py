"""Debrief events, for the layers above to subscribe to (in their ``init_app``)."""

from blinker import Namespace

_signals = Namespace()

# sender: DebriefTask; kwargs: now. Debriefs sends its own mail directly; shadow days add their follow-ups.
task_created = _signals.signal("debrief-task-created")

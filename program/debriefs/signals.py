"""Debrief events, for mail to subscribe to."""

from blinker import Namespace

_signals = Namespace()

# sender: DebriefTask; kwargs: now
task_created = _signals.signal("debrief-task-created")

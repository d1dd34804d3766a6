"""Shadow-pairing events, for mail to subscribe to."""

from blinker import Namespace

_signals = Namespace()

# sender: ShadowPairing; kwargs: change (proposed|accepted|declined|expired|cancelled|date_proposed|date_rejected),
# actor (User or None), now, and date_change for date events
pairing_changed = _signals.signal("shadow-pairing-changed")

"""Events of the accounts domain, for the layers above it (accounts imports none of them)."""

from blinker import Namespace

_signals = Namespace()

# sender: User (the person deactivated); kwargs: actor (User), now. Sent inside the deactivating transaction:
# the activity core subscribes (in its init_app) and gives up the person's upcoming places.
person_deactivated = _signals.signal("person-deactivated")

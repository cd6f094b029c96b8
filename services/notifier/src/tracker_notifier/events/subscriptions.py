"""What the notifier consumes: each event model of its queue, ``notifier.events``, and its
handler. To consume another event, add its model to the queue in
``tracker_contracts.messaging`` and its entry here."""

from tracker_contracts import UserRegistered, UserUpdated
from tracker_contracts.messaging import NOTIFIER_EVENTS
from tracker_contracts.subscriptions import Subscriptions, subscribe
from tracker_notifier.events.handlers import Handling, on_user_registered, on_user_updated

SUBSCRIPTIONS = Subscriptions[Handling, list[int]](
    NOTIFIER_EVENTS,
    (
        subscribe(UserRegistered, on_user_registered),
        subscribe(UserUpdated, on_user_updated),
    ),
)

"""What the notifier consumes: each event model of its queue, ``notifier.events``, and its
handler. To consume another event, add its model to the queue in
``tracker_contracts.messaging`` and its entry here."""

from tracker_contracts import (
    UserDeleted,
    UserPasswordResetRequested,
    UserRegistered,
    UserUpdated,
    UserVerificationRequested,
    UserVerified,
)
from tracker_contracts.messaging import NOTIFIER_EVENTS
from tracker_contracts.subscriptions import Subscriptions, subscribe
from tracker_notifier.events.handlers import (
    Handling,
    on_user_deleted,
    on_user_password_reset_requested,
    on_user_registered,
    on_user_updated,
    on_user_verification_requested,
    on_user_verified,
)

SUBSCRIPTIONS = Subscriptions[Handling, list[int]](
    NOTIFIER_EVENTS,
    (
        subscribe(UserRegistered, on_user_registered),
        subscribe(UserUpdated, on_user_updated),
        subscribe(UserVerified, on_user_verified),
        subscribe(UserDeleted, on_user_deleted),
        subscribe(UserVerificationRequested, on_user_verification_requested),
        subscribe(UserPasswordResetRequested, on_user_password_reset_requested),
    ),
)

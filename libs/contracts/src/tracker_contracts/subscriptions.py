"""A consumer's subscriptions: which handler each event model of its queue goes to.

The queue, in ``tracker_contracts.messaging``, lists the event models it consumes, and its
bindings follow from them; the consuming service lists, in one module of its own, a
:func:`subscribe` entry per model, pairing it with its handler (the contracts cannot import
the services' handlers, so the pairing lives with the service). :class:`Subscriptions`
refuses a list whose models differ from its queue's (a binding without a handler or a
handler without a binding), and every consumer adapter, whatever its transport, takes its
queue, its validation and its dispatch from one of these.

A handler takes the consumer's context (what the adapter opens for it: a database session,
say) and the envelope of its own event type; :func:`subscribe` checks, statically, that the
handler accepts the model it is subscribed to.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from tracker_contracts.events import Envelope, EventData, InvalidEvent, validate_event
from tracker_contracts.messaging import ConsumerQueue

ContextT = TypeVar("ContextT")
ResultT = TypeVar("ResultT")
DataT = TypeVar("DataT", bound=EventData)


@dataclass(frozen=True)
class Subscription(Generic[ContextT, ResultT]):
    """One event model and the handler of its events."""

    event: type[EventData]
    handler: Callable[[ContextT, Envelope[Any]], ResultT]


def subscribe(
    event: type[DataT], handler: Callable[[ContextT, Envelope[DataT]], ResultT]
) -> Subscription[ContextT, ResultT]:
    """``event``'s events go to ``handler``, which must take ``Envelope[event]``."""
    return Subscription(event, handler)


@dataclass(frozen=True)
class Subscriptions(Generic[ContextT, ResultT]):
    """A queue and the handler of every event model it consumes."""

    queue: ConsumerQueue
    entries: tuple[Subscription[ContextT, ResultT], ...]
    _handlers: Mapping[type[EventData], Callable[[ContextT, Envelope[Any]], ResultT]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        handled = [entry.event for entry in self.entries]
        if len(set(handled)) != len(handled):
            raise ValueError(f"{self.queue.name}: an event model is subscribed twice")
        if set(handled) != set(self.queue.events):
            unhandled = sorted(m.__name__ for m in set(self.queue.events) - set(handled))
            unbound = sorted(m.__name__ for m in set(handled) - set(self.queue.events))
            raise ValueError(
                f"{self.queue.name}: bound without a handler {unhandled}, "
                f"handled without a binding {unbound}"
            )
        handlers = {entry.event: entry.handler for entry in self.entries}
        object.__setattr__(self, "_handlers", handlers)

    @property
    def events(self) -> frozenset[type[EventData]]:
        """The event models with a handler."""
        return frozenset(self._handlers)

    def validate(self, body: bytes | str, headers: Mapping[str, Any]) -> Envelope[EventData]:
        """The received event (see :func:`validate_event`); raises :class:`InvalidEvent`
        also for a valid event of a type this consumer does not handle."""
        envelope = validate_event(body, headers)
        if type(envelope.data) not in self._handlers:
            raise InvalidEvent(f"{envelope.event_type} is not consumed from {self.queue.name}")
        return envelope

    def dispatch(self, context: ContextT, envelope: Envelope[EventData]) -> ResultT:
        """Hand ``envelope`` to its handler; raises ``KeyError`` for an event type without
        one (:meth:`validate` refuses those)."""
        return self._handlers[type(envelope.data)](context, envelope)

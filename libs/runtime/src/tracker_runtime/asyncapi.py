"""The AsyncAPI description of every event, generated with FastStream from the contracts.

Usage: ``python -m tracker_runtime.asyncapi [FILE]`` (default ``docs/events/asyncapi.json``).
"""

import json
import sys
from pathlib import Path
from typing import Any

from faststream.rabbit import RabbitBroker
from faststream.specification import AsyncAPI

from tracker_contracts import EVENT_MODELS, EVENTS_EXCHANGE, Envelope
from tracker_runtime.messaging import EXCHANGES_BY_NAME

DEFAULT_PATH = Path("docs/events/asyncapi.json")


def event_catalogue() -> dict[str, Any]:
    broker = RabbitBroker(
        "amqp://localhost:5672/",
        description="RabbitMQ; every event goes to the topic exchange tracker.events",
    )
    for event_type, model in EVENT_MODELS.items():
        broker.publisher(
            routing_key=event_type.value,
            exchange=EXCHANGES_BY_NAME[EVENTS_EXCHANGE],
            schema=Envelope[model],  # type: ignore[valid-type]
            title=event_type.value,
            description=f"{(model.__doc__ or '').strip()} (version {model.VERSION})",
            persist=True,
        )
    specification = AsyncAPI(
        broker, title="task-tracker events", version="1.0.0", schema_version="3.0.0"
    ).to_specification()
    catalogue: dict[str, Any] = specification.to_jsonable()
    return catalogue


def render() -> str:
    return json.dumps(event_catalogue(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render())
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

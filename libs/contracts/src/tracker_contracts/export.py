"""Export the JSON Schema of every event, one file per event type and version.

Usage: ``tracker-export-schemas [DIRECTORY]`` (default ``docs/events``).
"""

import json
import sys
from pathlib import Path
from typing import Any

from tracker_contracts.events import EVENT_MODELS, Envelope


def event_schemas() -> dict[str, dict[str, Any]]:
    """File name → JSON Schema of the full envelope of each event type."""
    schemas: dict[str, dict[str, Any]] = {}
    for event_type, model in EVENT_MODELS.items():
        schema = Envelope[model].model_json_schema()  # type: ignore[valid-type]
        schema["title"] = f"{event_type} v{model.VERSION}"
        schema["description"] = (model.__doc__ or "").strip()
        schema["properties"]["event_type"] = {"const": event_type.value, "type": "string"}
        schema["x-event-version"] = model.VERSION
        schemas[f"{event_type}.v{model.VERSION}.json"] = schema
    return schemas


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0] if args else "docs/events")
    directory.mkdir(parents=True, exist_ok=True)
    for name, schema in event_schemas().items():
        (directory / name).write_text(render(schema))
        print(f"wrote {directory / name}")


if __name__ == "__main__":
    main()

"""Render the gateway's nginx configuration for `make dev` and the tests.

Usage: ``python scripts/render_gateway.py OUTPUT_DIR``. The ``${NAME}`` placeholders of
``services/frontend/gateway.conf.template`` are filled from the environment, as the nginx
container's envsubst does, so both run the same template. The gateway serves the web app
that ``services/frontend/build.py`` assembles (``STATIC_ROOT``), so build it first.
"""

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "services" / "frontend"
DEFAULTS = {
    "GATEWAY_PORT": "8080",
    "AUTH_UPSTREAM": "127.0.0.1:8001",
    "TASKS_UPSTREAM": "127.0.0.1:8002",
    "STATIC_ROOT": str(FRONTEND / "dist"),
}
PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def render(template: str, values: dict[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise SystemExit(f"gateway template needs {name}, which is not set")
        return values[name]

    return PLACEHOLDER.sub(substitute, template)


def prepare(output: Path, environment: dict[str, str]) -> Path:
    """Write ``nginx.conf`` and ``gateway.conf`` into ``output``; return the prefix."""
    values = {**DEFAULTS, **{k: v for k, v in environment.items() if k in DEFAULTS}}
    if not (Path(values["STATIC_ROOT"]) / "index.html").is_file():
        raise SystemExit(
            f"no web app in {values['STATIC_ROOT']}: run `npm ci --prefix services/frontend` "
            "and `python services/frontend/build.py` first"
        )
    output.mkdir(parents=True, exist_ok=True)
    (output / "tmp").mkdir(exist_ok=True)
    template = (FRONTEND / "gateway.conf.template").read_text()
    (output / "gateway.conf").write_text(render(template, values))
    (output / "nginx.conf").write_text((FRONTEND / "nginx-dev.conf").read_text())
    return output


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print(f"gateway configuration written to {prepare(Path(sys.argv[1]), dict(os.environ))}")

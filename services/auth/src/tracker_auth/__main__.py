"""Run the auth service: ``python -m tracker_auth`` (``make dev`` and the image run this).

Listens on ``AUTH_HOST``:``AUTH_PORT``; see ``tracker_runtime.serve``.
"""

from tracker_auth.config import get_settings
from tracker_runtime.serve import serve


def main() -> None:
    serve("tracker_auth.main:create_app", get_settings(), process="auth")


if __name__ == "__main__":
    main()

"""Run the tasks service: ``python -m tracker_tasks`` (``make dev`` and the image run this).

Listens on ``TASKS_HOST``:``TASKS_PORT``; see ``tracker_runtime.serve``.
"""

from tracker_runtime.serve import serve
from tracker_tasks.config import get_settings


def main() -> None:
    serve("tracker_tasks.main:create_app", get_settings(), process="tasks")


if __name__ == "__main__":
    main()

"""``make chaos`` in small (:data:`chaos.profile.SHORT`): the same scenario, code and
checks, with eight people for about a minute and a half, on this test run's own databases
and virtual host. A change that loses a mail, sends one twice, drops a live change or
lets a fault surface as a 5xx fails here."""

from pathlib import Path

from chaos.profile import SHORT
from chaos.scenario import run as run_chaos
from chaos.stack import Names
from tests.support import run

NAMES = Names(
    auth_database=run.database_url("tracker_auth_chaos"),
    tasks_database=run.database_url("tracker_tasks_chaos"),
    notifier_database=run.database_url("tracker_notifier_chaos", "psycopg"),
    rabbitmq_url=run.vhost_url("tracker-chaos"),
)


async def test_replicas_under_faults_lose_nothing_and_send_nothing_twice(tmp_path: Path) -> None:
    outcome = await run_chaos(SHORT, NAMES, tmp_path)

    assert outcome.ok, f"logs in {tmp_path / 'logs'}\n{outcome.table()}"

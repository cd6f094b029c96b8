from collections.abc import Iterator

import pytest

from tracker_notifier.db import Database
from tracker_notifier.deliveries.service import DeliverySender
from tracker_notifier.mail.smtp import Mailer, SmtpConfig

from ..conftest import make_settings
from ..support import SmtpServer


@pytest.fixture
def sender(database: Database, smtp: SmtpServer) -> Iterator[DeliverySender]:
    """A sender on the test database and SMTP server, giving up after three attempts."""
    settings = make_settings(smtp_port=smtp.port, max_send_attempts=3)
    mailer = Mailer(SmtpConfig.from_settings(settings))
    yield DeliverySender(database, mailer, settings)
    mailer.close()

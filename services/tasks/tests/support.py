"""Constants shared by the tasks tests (accounts: :mod:`devsupport.accounts`; the
database: :mod:`tests.support.database`; tasks: :mod:`tests.support.tasks`)."""

BASE_URL = "https://tracker.test"
AUTH_URL = "http://auth.test"
NOTIFIER_SECRET = "dev-notifier-secret"
STRANGER_SECRET = "dev-stranger-secret"

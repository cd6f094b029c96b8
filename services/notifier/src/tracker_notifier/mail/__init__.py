"""Mail: building messages (``messages``) and sending them over SMTP (``smtp``)."""

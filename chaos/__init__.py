"""``make chaos``: the whole system with several replicas of each process, under faults.

Two auth and two tasks processes behind one gateway (nginx with a list of servers per
upstream), three notifier workers and two beats, all reaching RabbitMQ through a TCP proxy
that can be cut, and an SMTP server in this process that can answer 4xx. People register,
confirm their address with the link of their welcome mail, log in, change their tasks,
set reminders and watch their live streams, while a schedule of faults runs (see
:mod:`chaos.scenario`); digest ticks are sent at chosen instants. Afterwards
:mod:`chaos.checks` proves, from the mails the SMTP server accepted and the services'
databases, that nothing was lost and nothing sent twice, and prints a table.

``python -m chaos`` runs the full profile on databases and a virtual host of its own
(``tracker_*_chaos``, ``tracker-chaos``); ``tests/chaos`` runs the short one in
``make test``.
"""

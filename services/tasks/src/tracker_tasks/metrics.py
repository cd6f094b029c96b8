"""The tasks service's own metrics, beside the shell's (requests, the relay, the consumer).

``LIVE_STREAMS`` counts the live streams (``GET /api/tasks/events``) this replica holds open:
``live.hub.StreamHub`` counts a stream up when it opens and down when it lets it go, whatever
ended it.
"""

from prometheus_client import Gauge

LIVE_STREAMS = Gauge(
    "tracker_live_streams", "Live streams of task changes this replica holds open."
)

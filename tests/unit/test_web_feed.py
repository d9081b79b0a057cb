"""What one web page is told (controller/northbound/web/feed.py): intent events in order, a
page too far behind told to resync rather than queued without end, a switch or span change as
a flag, and the wait for something bounded."""

import threading
import time

from controller.core.intent import IntentEvent, State
from controller.northbound.web.feed import MAX_QUEUED, Feed


def event(n):
    return IntentEvent(f'i-{n}', 'red', State.INSTALLED, 'installed', float(n))


def test_events_come_out_in_order_with_the_topology_flag():
    feed = Feed()
    for n in range(3):
        feed.intent(event(n))
    feed.topology()
    assert feed.take(0.0) == ([event(0), event(1), event(2)], False, True)
    assert feed.take(0.0) == ([], False, False)  # taken: nothing twice


def test_a_page_too_far_behind_is_told_to_resync_and_nothing_piles_up():
    feed = Feed()
    for n in range(MAX_QUEUED + 5):
        feed.intent(event(n))
    events, lost, _ = feed.take(0.0)
    assert lost and events == [event(n) for n in range(MAX_QUEUED + 1, MAX_QUEUED + 5)]
    assert feed.take(0.0) == ([], False, False)


def test_take_waits_for_something_and_no_longer():
    feed = Feed()
    started = time.monotonic()
    assert feed.take(0.05) == ([], False, False)
    assert 0.04 <= time.monotonic() - started < 1.0
    threading.Timer(0.05, feed.topology).start()
    started = time.monotonic()
    assert feed.take(5.0) == ([], False, True)
    assert time.monotonic() - started < 1.0

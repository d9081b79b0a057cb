"""The store's group commit: a commit is on disk (and told) when `wait` returns for its ticket,
commits are told in the order they were queued, many concurrent commits share a transaction,
and a store that cannot write acknowledges nothing more."""

import os
import signal
import subprocess
import sys
import threading

import pytest

from controller.core.errors import Unavailable
from controller.core.intent import Intent, State
from controller.core.journal import Saved
from controller.store.sqlite import Store, read_only
from topologies.model.order import Protection, ServiceClass

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def saved(number, tenant='red'):
    intent = Intent(
        f'i-{number}',
        tenant,
        'dca',
        'dcb',
        1.0,
        None,
        Protection.NONE,
        ServiceClass.PRIORITY,
        State.INSTALLING,
        'placing',
        0.0,
        0.0,
        number,
    )
    return Saved(intent)


def test_what_a_wait_returned_for_is_on_disk_and_told_in_order(tmp_path):
    db = tmp_path / 'naas.db'
    store = Store(db)
    told, writes, queued = [], [], []
    write = store._write
    store._write = lambda group: (writes.append(len(group)), write(group))
    lock = threading.Lock()

    def writer(first):
        for number in range(first, first + 50):
            with lock:  # as the runtime does: commits are queued one at a time, in order
                queued.append(number)
                ticket = store.save(
                    [saved(number)], [], {'next_number': number + 1}, after=lambda n=number: told.append(n)
                )
            store.wait(ticket)
            on_disk = {s.intent.id for s in read_only(db)[1]}
            assert f'i-{number}' in on_disk and number in told

    threads = [threading.Thread(target=writer, args=(1 + 50 * k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(told) == 400 and sum(writes) == 400
    assert told == queued  # each told once, in the order queued
    assert len(writes) < 400  # concurrent commits shared transactions
    store.close()
    meta, kept = read_only(db)
    assert len(kept) == 400 and meta['next_number'] in range(2, 402)


def test_commits_are_told_in_the_order_they_were_queued(tmp_path):
    store = Store(tmp_path / 'naas.db')
    told = []
    tickets = [store.save([saved(n)], [], {}, after=lambda n=n: told.append(n)) for n in range(1, 21)]
    store.wait(tickets[4])  # one wait writes everything queued so far
    assert told == list(range(1, 21)) and store.written == tickets[-1]
    store.close()


def test_observed_commits_are_written_unsynced_and_survive_the_process_being_killed(tmp_path):
    """A group with a durable commit ends in an fsync (synchronous=FULL); one of observed
    commits only is written to the WAL (NORMAL), where a SIGKILL of the process cannot take it."""
    db = tmp_path / 'naas.db'
    script = f"""
import os, signal
from tests.unit.test_store_group_commit import saved
from controller.store.sqlite import Store
store, modes = Store({str(db)!r}), []
write = store._write
mode = "PRAGMA synchronous"
store._write = lambda group: (write(group), modes.append(store._db.execute(mode).fetchone()[0]))
store.wait(store.save([saved(1)], [], {{}}, durable=False))
store.wait(store.save([saved(2)], [], {{}}))
store.save([saved(3)], [], {{}}, durable=False)
store.wait(store.save([saved(4)], [], {{}}))  # one group with 3: synced
store.wait(store.save([saved(5)], [], {{'next_number': 6}}, durable=False))
print(modes, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
    run = [sys.executable, '-c', script]
    done = subprocess.run(run, capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert done.stdout.strip() == '[1, 2, 2, 1]'  # NORMAL, FULL, FULL, NORMAL
    meta, kept = read_only(db)
    assert [s.intent.id for s in kept] == [f'i-{n}' for n in range(1, 6)] and meta['next_number'] == 6


def test_a_later_commit_of_a_row_wins_and_a_delete_removes_it(tmp_path):
    db = tmp_path / 'naas.db'
    store = Store(db)
    first = saved(1)
    store.save([first], [], {})
    changed = saved(1)
    changed.intent.reason = 'moved'
    store.save([changed], [], {})
    store.save([saved(2)], ['i-1'], {})
    store.close()  # closing writes what is queued
    assert [s.intent.id for s in read_only(db)[1]] == ['i-2']


def test_a_store_that_cannot_write_acknowledges_nothing_more(tmp_path):
    failures = []
    store = Store(tmp_path / 'naas.db', on_failure=lambda: failures.append(True))
    ticket = store.save([saved(1)], [], {})
    store.wait(ticket)

    def broken(group):
        raise OSError(28, 'No space left on device')

    store._write = broken
    ticket = store.save([saved(2)], [], {})
    with pytest.raises(Unavailable, match='No space left'):
        store.wait(ticket)
    assert failures == [True]
    with pytest.raises(Unavailable, match='failed'):
        store.save([saved(3)], [], {})
    with pytest.raises(Unavailable, match='failed'):
        store.wait(ticket)
    store.close()

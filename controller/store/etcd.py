"""Intents on etcd, for controller replicas (docs/ha.md): what the SQLite store keeps, in an etcd
cluster every replica reaches, written by the leader alone.

Keys, under /naas/<fabric>/: `intents/<id>` (the record, records.py, as JSON), `meta` (the
counters), `leader` (who leads, on the leader's lease), `delays` and `topology` (what the
leader measured and its topology as the API shows it, at most once a second unless a switch or
span changes state). Every group the leader writes is one etcd transaction that
holds only while the `leader` key is still the one it created (its create revision, the
leader's generation): a leader whose lease expired, paused or cut off, writes nothing more.

`Etcd` talks to the cluster through etcd3gw (etcd's JSON gateway), going on to the next member
when one does not answer. Every request it retries is idempotent (puts of whole records under
the leader's compare; a campaign that may have won already is recognized by its lease)."""

import base64
import json
import logging
import os
import re
import ssl
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import requests

with warnings.catch_warnings():  # futurist, etcd3gw's, imports eventlet (os-ken's) and it warns
    warnings.simplefilter('ignore')
    import etcd3gw
    from etcd3gw import exceptions

from controller.core.errors import Unavailable
from controller.store.group import Commit, GroupCommit, StoreError, merged

LOG = logging.getLogger('naas.store')
TIMEOUT_S = 2.0  # one request to one member; a member without quorum answers within etcd's own 5 s
WATCH_IDLE_S = 30.0  # a watch that says nothing for this long is opened again (a paused member)


def endpoints(url: str) -> list[tuple[str, int]]:
    """'etcd://HOST:PORT[,HOST:PORT...]' -> [(host, port)], or StoreError naming what is wrong."""
    if not url.startswith('etcd://'):
        raise StoreError(f'--store {url}: expected etcd://HOST:PORT[,HOST:PORT...]')
    found = []
    for part in url.removeprefix('etcd://').split(','):
        host, _, port = part.strip().rpartition(':')
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise StoreError(f'--store {url}: {part!r} is not HOST:PORT')
        found.append((host.strip('[]'), int(port)))
    return found


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def prefix_end(prefix: str) -> str:
    """The end of the range of keys that start with `prefix` (its last byte plus one)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class Keys:
    def __init__(self, fabric: str):
        self.root = f'/naas/{fabric}/'
        self.intents = self.root + 'intents/'
        self.meta = self.root + 'meta'
        self.leader = self.root + 'leader'
        self.delays = self.root + 'delays'
        self.topology = self.root + 'topology'

    def intent(self, intent_id: str) -> str:
        return self.intents + intent_id


@dataclass(frozen=True)
class EtcdTls:
    """TLS to etcd: `ca` (PEM path) verifies the members' certificates; `cert` and `key`, this
    replica's client certificate, for a cluster that asks for one (etcd --client-cert-auth)."""

    ca: str
    cert: str | None = None
    key: str | None = None

    def check(self) -> 'EtcdTls':
        """Itself, or StoreError naming the option whose file cannot be read."""
        for flag, path in (('--store-ca', self.ca), ('--store-cert', self.cert), ('--store-key', self.key)):
            if path is not None and not os.access(path, os.R_OK):
                raise StoreError(f'{flag} {path}: cannot be read')
        return self


class Etcd:
    """The cluster's members in turn: a request goes to the member that answered last, and on
    to the next while one does not answer (down, or without quorum)."""

    def __init__(self, url: str, timeout_s: float = TIMEOUT_S, tls: EtcdTls | None = None):
        self.url = url
        self.timeout_s = timeout_s
        self._clients = [
            etcd3gw.client(
                host=h, port=p, timeout=timeout_s, protocol='https' if tls else 'http', session=_session(tls)
            )
            for h, p in endpoints(url)
        ]
        self._current = 0
        self._lock = threading.Lock()

    def post(self, path: str, body: dict) -> dict:
        """The JSON answer of the first member that gives one; Unavailable if none does."""
        errors = []
        for attempt in range(len(self._clients)):
            with self._lock:
                k = (self._current + attempt) % len(self._clients)
            client = self._clients[k]
            try:
                answer = client.post(client.get_url(path), json=body)
            except (exceptions.ConnectionFailedError, exceptions.ConnectionTimeoutError) as e:
                errors.append(f'{client.host}:{client.port}: {type(e).__name__}{_tls_problem(e)}')
                continue
            except exceptions.Etcd3Exception as e:  # etcd answered, but could not serve it
                detail = getattr(e, 'detail_text', '') or str(e)
                errors.append(f'{client.host}:{client.port}: {detail[:200]}')
                continue
            with self._lock:
                self._current = k
            return answer
        raise Unavailable(f'no etcd member served {path} ({"; ".join(errors)})')

    def range(self, key: str, end: str | None = None) -> tuple[int, list[dict]]:
        """(revision, key-values) of `key`, or of [key, end)."""
        body = {'key': b64(key)}
        if end is not None:
            body['range_end'] = b64(end)
        answer = self.post('/kv/range', body)
        return int(answer['header']['revision']), answer.get('kvs', [])

    def txn(self, compare: list[dict], success: list[dict], failure: list[dict] = ()) -> tuple[bool, dict]:
        answer = self.post('/kv/txn', {'compare': compare, 'success': success, 'failure': list(failure)})
        return bool(answer.get('succeeded')), answer

    def grant(self, ttl_s: int) -> tuple[int, int]:
        """A new lease -> (id, the TTL etcd granted: at least its minimum, 1.5 election timeouts)."""
        answer = self.post('/lease/grant', {'TTL': ttl_s})
        return int(answer['ID']), int(answer['TTL'])

    def keepalive(self, lease: int) -> int:
        """Renew `lease` -> its TTL now, 0 if it has expired."""
        answer = self.post('/lease/keepalive', {'ID': lease})
        return int(answer.get('result', {}).get('TTL', 0))

    def revoke(self, lease: int) -> None:
        self.post('/lease/revoke', {'ID': lease})

    def watch(self, key: str, end: str, start_revision: int) -> Iterator[dict]:
        """Every watch answer for [key, end) from `start_revision` on ({'header', 'events'} or
        {'compact_revision'}), across members: when the member serving it goes away the
        watch is opened again on the next one, from the revision after the last one seen.
        Ends only when the caller stops iterating."""
        revision = start_revision
        k = self._current
        while True:
            client = self._clients[k % len(self._clients)]
            create = {
                'key': b64(key),
                'range_end': b64(end),
                'start_revision': revision,
                'progress_notify': True,
            }
            try:
                with client.session.post(
                    client.get_url('/watch'),
                    json={'create_request': create},
                    stream=True,
                    timeout=(self.timeout_s, WATCH_IDLE_S),
                ) as answer:
                    for line in answer.iter_lines():
                        if not line.strip():
                            continue
                        result = json.loads(line).get('result', {})
                        if result.get('created'):
                            continue
                        if 'compact_revision' in result and int(result['compact_revision']) > 0:
                            yield result
                            return
                        if result.get('events'):
                            revision = int(result['header']['revision']) + 1
                            yield result
            except (requests.RequestException, ValueError) as e:
                LOG.info('etcd watch on %s:%s ended (%s): on to the next member', client.host, client.port, e)
            k += 1


def _session(tls: EtcdTls | None) -> requests.Session:
    """A session that takes nothing from the environment: REQUESTS_CA_BUNDLE would override
    the CA given (requests prefers it to a session's `verify`), and HTTP(S)_PROXY would send
    the cluster's traffic through a proxy."""
    session = requests.Session()
    session.trust_env = False
    if tls is not None:
        session.verify = tls.ca
        if tls.cert and tls.key:
            session.cert = (tls.cert, tls.key)
    return session


def _tls_problem(e: Exception) -> str:
    """What went wrong in a TLS handshake, if that is why a member could not be reached."""
    cause: BaseException | None = e
    while cause is not None:
        if isinstance(cause, (requests.exceptions.SSLError, ssl.SSLError)):
            found = re.search(
                r"\[SSL: [^]]+\][^'\"(]*", str(cause)
            )  # e.g. [SSL: CERTIFICATE_VERIFY_FAILED] ...
            return f' (TLS: {(found.group(0) if found else str(cause)[-160:]).strip()})'
        cause = cause.__cause__ or cause.__context__
    return ''


def put(key: str, value: str | bytes, lease: int | None = None) -> dict:
    request = {'key': b64(key), 'value': b64(value)}
    if lease is not None:
        request['lease'] = lease
    return {'request_put': request}


def delete(key: str) -> dict:
    return {'request_delete_range': {'key': b64(key)}}


def created_at(key: str, revision: int) -> dict:
    """Compare: `key` is the one created at `revision` (0: there is no such key)."""
    return {'key': b64(key), 'target': 'CREATE', 'result': 'EQUAL', 'create_revision': revision}


class EtcdStore(GroupCommit):
    """The leader's store: each group one transaction fenced by the leader's key. What the
    cluster held when this replica took the lead its core takes from the replica's mirror
    (Mirror.take_restored), kept in step while it followed: there is nothing to load."""

    def __init__(
        self,
        etcd: Etcd,
        keys: Keys,
        generation: int,
        meta: dict,
        on_failure: Callable[[], None] | None = None,
    ):
        """`meta`: the counters as the cluster holds them (one key holds them all: written whole)."""
        super().__init__(on_failure)
        self.name = f'etcd ({etcd.url})'
        self.etcd, self.keys, self.generation = etcd, keys, generation
        self._meta = dict(meta)

    def load(self):
        raise StoreError(
            'a leader on etcd starts from its mirror: Controller(restored=mirror.take_restored())'
        )

    def _write(self, group: list[Commit]) -> None:
        """One transaction, that holds only while this replica leads. etcd keeps every write
        on a majority of its members' disks before it answers (each syncs its log), so a
        group is as durable as etcd: observed commits cost the same as durable ones here."""
        rows, deleted, meta, _ = merged(group)
        if not rows and not deleted and not meta:
            return
        requests_ = [put(self.keys.intent(i), row[3]) for i, row in rows.items()]
        requests_ += [delete(self.keys.intent(i)) for i in deleted]
        if meta:
            self._meta.update(meta)
            requests_.append(put(self.keys.meta, json.dumps(self._meta)))
        held, _ = self.etcd.txn([created_at(self.keys.leader, self.generation)], requests_)
        if not held:
            raise Unavailable(f'this replica no longer leads (generation {self.generation} is over)')

"""The API server in this process, on a real socket, with the core behind it and the
loopback southbound (no switches: every plan counts as installed at once)."""

import secrets
from dataclasses import dataclass

import pytest

from controller.assemble import Assembly, assemble
from controller.runtime import Runtime
from controller.store.sqlite import Store
from naasctl.client import Client
from topologies.model.auth import Auth, Caller, digest
from topologies.model.fabric import load_fabric


@dataclass
class Served:
    fabric: object
    runtime: Runtime
    target: str
    tokens: dict  # 'operator' and tenant ids -> token
    controller: Assembly
    clients: list

    def client(self, who, **kw):
        """A Client with `who`'s token ('operator', a tenant id, or None for no token)."""
        kw.setdefault('token', self.tokens.get(who) if who else None)
        client = Client(self.target, **kw)
        self.clients.append(client)
        return client

    def call(self, fn):
        return self.runtime.call(fn)

    def stop(self):
        for client in self.clients:
            client.close()
        self.controller.stop(grace_s=None)


@pytest.fixture
def serve(tmp_path):
    """serve(fabric='triangle', quotas=None, tls=None, http=None) -> Served; stopped after the
    test. `http`: the address to serve /metrics and the web view on, ('127.0.0.1', 0) say."""
    running = []

    def start(fabric='triangle', quotas=None, tls=None, db=None, http=None):
        fabric = load_fabric(fabric)
        tokens = {name: secrets.token_urlsafe(16) for name in ['operator', *fabric.tenants]}
        callers = {digest(tokens['operator']): Caller('operator')}
        callers.update({digest(tokens[t]): Caller(t, t) for t in fabric.tenants})
        store = Store(db or tmp_path / f'naas-{len(running)}.db')
        controller = assemble(
            fabric, store, Auth(callers, quotas or {}), tls=tls, southbound='loopback', http_address=http
        )
        served = Served(
            fabric, controller.runtime, f'127.0.0.1:{controller.grpc_port}', tokens, controller, []
        )
        running.append(served)
        return served

    yield start
    for served in running:
        served.stop()

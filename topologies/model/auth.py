"""Who may call the API: operators (who see every tenant) and tenants (who see their own
intents), each known by a bearer token, and each tenant's quota.

The auth file (`naas-controller --auth FILE`, format in docs/api.md) holds SHA-256 digests of
the tokens, never the tokens: the file can be read, copied and reviewed without giving
anyone access. A request presents `authorization: Bearer <token>`; the token is hashed and
looked up, and neither it nor its digest is ever logged.
"""

import hashlib
import math
import re
from dataclasses import dataclass

from topologies.model.config import ConfigError, Validator, read_yaml

DIGEST = re.compile(r'[0-9a-f]{64}')
EMPTY = hashlib.sha256(b'').hexdigest()


@dataclass(frozen=True)
class Caller:
    name: str  # the operator's name or the tenant id, for logs
    tenant: str = None  # None: an operator

    @property
    def operator(self):
        return self.tenant is None


class Auth:
    def __init__(self, callers, quotas):
        self._callers = dict(callers)  # token digest -> Caller
        self.quotas = dict(quotas)  # tenant -> Gb/s

    def caller(self, metadata):
        """The Caller of a request's metadata, or None: no token, an unknown one, or more than
        one `authorization` header (which one would count is a matter of which proxy read
        them). The token is exactly what follows "Bearer ": one with whitespace around it is
        not the token the digest was made of, and is refused rather than guessed at."""
        values = [value for key, value in metadata if key == 'authorization']
        if len(values) != 1 or not isinstance(values[0], str):
            return None
        scheme, _, token = values[0].partition(' ')
        if scheme.lower() != 'bearer' or not token or token != token.strip():
            return None
        return self._callers.get(digest(token))

    @property
    def callers(self):
        """Everyone who has a token (some have several): a frozenset of Caller."""
        return frozenset(self._callers.values())


def digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


def load_auth(path, fabric):
    """An Auth from the file at `path`; ConfigError listing every problem as `FILE: KEY: RULE`."""
    return parse_auth(read_yaml(path), fabric, str(path))


def parse_auth(data, fabric, source='auth'):
    """An Auth from a decoded auth document (None: nobody), checked against the fabric."""
    v = Validator()
    doc = {} if data is None else data
    if not isinstance(doc, dict):
        v.problem('', f'must be a mapping with operators and tenants, got {type(doc).__name__}')
        doc = {}
    v.mapping(doc, '', required=(), optional=('operators', 'tenants'))
    callers, quotas = {}, {}

    def add_tokens(key, entry, caller):
        tokens = entry.get('token_sha256')
        tokens = [tokens] if isinstance(tokens, str) else tokens
        if not tokens or not isinstance(tokens, list):
            v.problem(f'{key}.token_sha256', 'required: the SHA-256 hex digest of a token, or a list of them')
            return
        for t in tokens:
            if not isinstance(t, str) or not DIGEST.fullmatch(t.lower()):
                v.problem(f'{key}.token_sha256', 'must be 64 hex digits (printf %s "$TOKEN" | sha256sum)')
            elif t.lower() == EMPTY:
                v.problem(f'{key}.token_sha256', 'is the digest of the empty token: anyone could send it')
            elif t.lower() in callers:
                v.problem(
                    f'{key}.token_sha256', f'the same token is already given to {callers[t.lower()].name}'
                )
            else:
                callers[t.lower()] = caller

    for i, entry in enumerate(_entries(v, doc, 'operators')):
        key = f'operators[{i}]'
        v.mapping(entry, key, required=(), optional=('name', 'token_sha256'))
        name = entry.get('name')
        if not isinstance(name, str) or not name:
            v.problem(f'{key}.name', f'required: non-empty text, got {name!r}')
        add_tokens(key, entry, Caller(str(name)))
    seen = set()
    for i, entry in enumerate(_entries(v, doc, 'tenants')):
        key = f'tenants[{i}]'
        v.mapping(entry, key, required=(), optional=('id', 'token_sha256', 'quota_gbps'))
        tenant = entry.get('id')
        if not isinstance(tenant, str) or tenant not in fabric.tenants:
            v.problem(
                f'{key}.id',
                f'{tenant!r} is not a tenant of fabric {fabric.name} '
                f'(its tenants: {", ".join(fabric.tenants)})',
            )
        elif tenant in seen:
            v.problem(f'{key}.id', f'tenant {tenant} is listed twice')
        seen.add(tenant)
        add_tokens(key, entry, Caller(str(tenant), tenant))
        if 'quota_gbps' in entry:
            quota = entry['quota_gbps']
            if (
                isinstance(quota, bool)
                or not isinstance(quota, (int, float))
                or not math.isfinite(quota)
                or not quota > 0
            ):
                v.problem(f'{key}.quota_gbps', f'must be a finite number > 0 (Gb/s), got {quota!r}')
            else:
                quotas[tenant] = float(quota)
    if v.problems:
        raise ConfigError(source, v.problems)
    return Auth(callers, quotas)


def _entries(v, doc, key):
    """The mappings listed under doc[key] (none if it is not such a list)."""
    entries = doc.get(key) or []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        v.problem(key, 'must be a list of mappings')
        return []
    return entries

"""Who may call the API: operators (who see every tenant) and tenants (who see their own
intents), each known by a bearer token, and each tenant's quota.

The auth file (`naas-controller --auth FILE`, format in docs/api.md) holds SHA-256 digests of
the tokens, never the tokens: the file can be read, copied and reviewed without giving
anyone access. A request presents `authorization: Bearer <token>`; the token is hashed and
looked up, and neither it nor its digest is ever logged.
"""

import hashlib
import re
from dataclasses import dataclass

import yaml

DIGEST = re.compile(r'[0-9a-f]{64}')


class AuthFileError(ValueError):
    pass


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
        """The Caller of a request's metadata, or None when its token is missing or unknown."""
        token = dict(metadata).get('authorization', '')
        scheme, _, token = token.partition(' ')
        if scheme.lower() != 'bearer' or not token.strip():
            return None
        return self._callers.get(digest(token.strip()))


def digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


def load_auth(path, fabric):
    """An Auth from the file at `path`; AuthFileError naming the file and the key."""
    try:
        with open(path) as f:
            doc = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as e:
        raise AuthFileError(f'{path}: cannot read: {e}') from None

    def fail(key, message):
        raise AuthFileError(f'{path}: {key}: {message}')

    if not isinstance(doc, dict):
        fail('(top)', 'must be a mapping with operators and tenants')
    for key in doc:
        if key not in ('operators', 'tenants'):
            fail(key, 'unknown key (known: operators, tenants)')
    callers, quotas = {}, {}

    def add_tokens(key, entry, caller):
        tokens = entry.get('token_sha256')
        tokens = [tokens] if isinstance(tokens, str) else tokens
        if not tokens or not isinstance(tokens, list):
            fail(f'{key}.token_sha256', 'required: the SHA-256 hex digest of a token, or a list of them')
        for t in tokens:
            if not isinstance(t, str) or not DIGEST.fullmatch(t.lower()):
                fail(f'{key}.token_sha256', 'must be 64 hex digits (printf %s "$TOKEN" | sha256sum)')
            if t.lower() in callers:
                fail(f'{key}.token_sha256', f'the same token is already given to {callers[t.lower()].name}')
            callers[t.lower()] = caller

    for i, entry in enumerate(_entries(doc, 'operators', fail)):
        key = f'operators[{i}]'
        _known_keys(entry, key, ('name', 'token_sha256'), fail)
        name = entry.get('name')
        if not isinstance(name, str) or not name:
            fail(f'{key}.name', 'required')
        add_tokens(key, entry, Caller(name))
    seen = set()
    for i, entry in enumerate(_entries(doc, 'tenants', fail)):
        key = f'tenants[{i}]'
        _known_keys(entry, key, ('id', 'token_sha256', 'quota_gbps'), fail)
        tenant = entry.get('id')
        if tenant not in fabric.tenants:
            fail(
                f'{key}.id',
                f'{tenant!r} is not a tenant of fabric {fabric.name} '
                f'(its tenants: {", ".join(fabric.tenants)})',
            )
        if tenant in seen:
            fail(f'{key}.id', f'tenant {tenant} is listed twice')
        seen.add(tenant)
        add_tokens(key, entry, Caller(tenant, tenant))
        if 'quota_gbps' in entry:
            quota = entry['quota_gbps']
            if isinstance(quota, bool) or not isinstance(quota, (int, float)) or not quota > 0:
                fail(f'{key}.quota_gbps', f'must be a number > 0 (Gb/s), got {quota!r}')
            quotas[tenant] = float(quota)
    return Auth(callers, quotas)


def _entries(doc, key, fail):
    entries = doc.get(key) or []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        fail(key, 'must be a list of mappings')
    return entries


def _known_keys(entry, key, known, fail):
    for k in entry:
        if k not in known:
            fail(f'{key}.{k}', f'unknown key (known: {", ".join(known)})')

"""Page tokens of ListIntents: opaque and tamper-evident (AIP-158).

A token is the intent number to resume after and a digest of the list's filters, signed with
HMAC-SHA256 under a key the server draws when it starts: 32 bytes, 43 characters of base64url.
A token that is not one this server gave (forged, cut, from before a restart) is refused as
INVALID_ARGUMENT naming page_token, and one given for other filters is refused as such; the
caller lists again from the first page. Nothing in a token is parsed before its signature holds.
"""

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import struct

from controller.core.errors import InvalidArgument

_POSITION = struct.Struct('>Q')  # the intent number to resume after
_FILTERS, _MAC = 8, 16  # bytes of the filters' digest and of the signature
TOKEN_CHARS = 43
AGAIN = 'list again from the first page'


class PageTokens:
    def __init__(self, key: bytes | None = None):
        self._key = key or secrets.token_bytes(32)

    def token(self, after: int, filters: list) -> str:
        body = _POSITION.pack(after) + _digest(filters)
        raw = body + self._mac(body)
        return base64.urlsafe_b64encode(raw).decode().rstrip('=')

    def start(self, token: str, filters: list) -> int:
        """The intent number `token` resumes after (0 for no token)."""
        if not token:
            return 0
        raw = b''
        if len(token) == TOKEN_CHARS:
            try:
                raw = base64.urlsafe_b64decode(token + '=')
            except (binascii.Error, ValueError):  # not base64, or not ASCII
                pass
        body, mac = raw[:-_MAC], raw[-_MAC:]
        if len(raw) != _POSITION.size + _FILTERS + _MAC or not hmac.compare_digest(mac, self._mac(body)):
            raise InvalidArgument('page_token', f'not a token this server gave: {AGAIN}')
        if body[_POSITION.size :] != _digest(filters):
            raise InvalidArgument('page_token', f'was given for other filters: {AGAIN}')
        return _POSITION.unpack(body[: _POSITION.size])[0]

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:_MAC]


def _digest(filters: list) -> bytes:
    return hashlib.sha256(json.dumps(filters).encode()).digest()[:_FILTERS]

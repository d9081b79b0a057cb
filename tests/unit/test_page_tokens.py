"""Page tokens (controller/northbound/pages.py): opaque, signed, tied to the list's filters."""

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.core.errors import InvalidArgument
from controller.northbound.pages import TOKEN_CHARS, PageTokens

FILTERS = ['red', 0, '']


def test_a_token_resumes_where_it_was_given():
    pages = PageTokens()
    for after in (0, 1, 41, 2**63):
        token = pages.token(after, FILTERS)
        assert len(token) == TOKEN_CHARS and pages.start(token, FILTERS) == after
    assert pages.start('', FILTERS) == 0


def test_a_token_for_other_filters_or_of_another_key_is_refused():
    pages = PageTokens()
    token = pages.token(7, FILTERS)
    with pytest.raises(InvalidArgument, match='other filters'):
        pages.start(token, ['red', 0, 'dca'])
    with pytest.raises(InvalidArgument, match='not a token this server gave'):
        PageTokens().start(token, FILTERS)


def test_changing_any_bit_of_a_token_is_caught():
    pages = PageTokens(b'k' * 32)
    raw = bytearray(base64.urlsafe_b64decode(pages.token(5, FILTERS) + '='))
    for i in range(len(raw)):
        for bit in (1, 128):
            forged = bytearray(raw)
            forged[i] ^= bit
            token = base64.urlsafe_b64encode(bytes(forged)).decode().rstrip('=')
            with pytest.raises(InvalidArgument) as e:
                pages.start(token, FILTERS)
            assert e.value.field == 'page_token'


@given(st.text(max_size=200))
def test_any_text_is_a_token_or_invalid_argument(text):
    try:
        PageTokens(b'k' * 32).start(text, FILTERS)
    except InvalidArgument as e:
        assert e.field == 'page_token'

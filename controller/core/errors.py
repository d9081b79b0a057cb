"""What the core refuses, and why; the northbound maps each to a gRPC status code."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from controller.core.paths import NoPath


SHOWN_CHARS = 40  # of a caller's value echoed in a message


class CoreError(Exception):
    pass


def shown(value: object) -> str:
    """A caller's value as a message echoes it: its repr, cut short. Whoever sent 17,000
    characters does not get them back, nor do they reach the log."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + '...'


class InvalidArgument(CoreError):
    """A field breaks a rule (INVALID_ARGUMENT); `field` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(f'{field}: {message}')
        self.field, self.message = field, message


class NotFound(CoreError):
    """No such intent, or not the caller's (NOT_FOUND)."""


class Conflict(CoreError):
    """The request clashes with an intent that exists (ALREADY_EXISTS)."""


class FailedPrecondition(CoreError):
    """The intent is not in a state that allows the request (FAILED_PRECONDITION)."""


class Unavailable(CoreError):
    """The controller cannot keep its promises now (UNAVAILABLE): its store failed to write,
    so nothing more is acknowledged and it is stopping; try again once it is back."""


class QuotaExceeded(CoreError):
    """The tenant's committed bandwidth would pass its quota (RESOURCE_EXHAUSTED);
    `left_gbps` is what is left of it."""

    def __init__(self, message: str, left_gbps: float):
        super().__init__(message)
        self.left_gbps = left_gbps


class Unplaceable(CoreError):
    """No path fits (RESOURCE_EXHAUSTED); `no_path` (paths.NoPath) says what would."""

    def __init__(self, no_path: 'NoPath'):
        super().__init__(no_path.reason)
        self.no_path = no_path

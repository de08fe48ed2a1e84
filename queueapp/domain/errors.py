"""Why a command was refused.

Three kinds, because callers react to them differently: the thing named does
not exist (:class:`NotFound`), the request itself is malformed or out of range
(:class:`Invalid`), or the request is fine but the branch is not in a state to
do it (:class:`Conflict`). Every refusal carries a stable machine ``code`` and
a sentence for people; a refused command changes nothing.

::

    DomainError
    +-- NotFound
    +-- Invalid
    +-- Conflict
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


class NotFound(DomainError):
    pass


class Invalid(DomainError):
    pass


class Conflict(DomainError):
    pass

"""The exceptions codeb raises: one class per kind of failure.

Every class derives from :class:`CodebError`, and some also from the
builtin that fits, so ordinary ``except`` clauses work: ``NotFoundError``
from ``LookupError``, ``InvalidError`` from ``ValueError``,
``UnavailableError`` from ``ConnectionError`` and ``CodebTimeoutError``
from ``TimeoutError``. Every raised instance carries:

- ``kind``: the SDK's kind name (``"not_found"``, ``"invalid"``, ...);
- ``message``: the message without context;
- ``context``: a dict of what the SDK knew (``project``, ``environment``,
  ``step``, ``field``, ``rule``, ...);
- ``temporary``: whether retrying the same call later may succeed.

``str(error)`` is the SDK's full text. The timeout class is named
:class:`CodebTimeoutError` so it does not shadow Python's builtin
``TimeoutError``, which it derives from. ``ERRORS_BY_KIND`` maps each kind name to its class.
"""

from codeb._codeb import (
    ERRORS_BY_KIND,
    AlreadyExistsError,
    CodebError,
    CodebTimeoutError,
    ConflictError,
    ForbiddenError,
    InternalError,
    InvalidError,
    LockedError,
    NotFoundError,
    UnauthenticatedError,
    UnavailableError,
    UnhealthyError,
)

__all__ = [
    "ERRORS_BY_KIND",
    "AlreadyExistsError",
    "CodebError",
    "CodebTimeoutError",
    "ConflictError",
    "ForbiddenError",
    "InternalError",
    "InvalidError",
    "LockedError",
    "NotFoundError",
    "UnauthenticatedError",
    "UnavailableError",
    "UnhealthyError",
]

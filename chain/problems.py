"""One problem vocabulary (RFC 9457) for every tradenet HTTP service (node API, oracle operators).

Every error answer is an ``application/problem+json`` body of one shape::

    {"type": "urn:tradenet:problem:<code>", "title": "...", "status": 422, "detail": "...",
     "code": "<code>", "field": "buyer", "instance": "/invoices", ...extensions}

``code`` is the machine-readable kind (snake_case, also the last part of ``type``), ``field`` the
dotted path of the offending input where there is one; extensions (``errors``, ``arguments``...)
follow. :class:`Problem` builds and checks a body. An error that is answered this way derives from
:class:`ProblemError`: its class states the kind (``status``, ``code``, ``title``), the instance
the case (``detail``, ``field``, extensions). Each service renders bodies with its own response
class and ``MEDIA_TYPE``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:tradenet:problem:"


class Problem(BaseModel):
    """An RFC 9457 problem body."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str
    title: str
    status: int
    detail: str
    code: str
    field: str | None = None
    instance: str | None = None

    @classmethod
    def of(cls, status: int, code: str, title: str, detail: str = "", *, field: str | None = None,
           instance: str | None = None, **extensions: Any) -> "Problem":
        return cls(type=TYPE_PREFIX + code, title=title, status=status, detail=detail or title, code=code,
                   field=field, instance=instance, **{k: v for k, v in extensions.items() if v is not None})

    def body(self) -> dict[str, Any]:
        """The JSON object (absent members left out)."""
        return self.model_dump(exclude_none=True)


class ProblemError(Exception):
    """An error answered with a problem body; subclasses name the kind."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str = "", *, field: str | None = None, **extensions: Any):
        self.detail = detail or self.title
        self.field = field
        self.extensions = extensions
        super().__init__(self.detail if field is None else f"{field}: {self.detail}")

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        """The problem body of this error."""
        return Problem.of(self.status, self.code, self.title, self.detail, field=self.field, instance=instance,
                          **self.extensions).body()

"""Origins (RFC 6454: scheme, host, port) of the URIs a sign-in message names, for comparing
them with the node's own."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["DEFAULT_PORTS", "Origin", "origin_of"]

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int | None

    def __str__(self) -> str:
        port = "" if self.port is None or self.port == DEFAULT_PORTS.get(self.scheme) else f":{self.port}"
        return f"{self.scheme}://{self.host}{port}"


def origin_of(uri: str) -> Origin | None:
    """The origin of an absolute URI with an authority; None for anything else (no host,
    userinfo in it, a port that is not a number)."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname or parts.username is not None or parts.password is not None:
        return None
    scheme = parts.scheme.lower()
    return Origin(scheme, parts.hostname.lower(), port if port is not None else DEFAULT_PORTS.get(scheme))

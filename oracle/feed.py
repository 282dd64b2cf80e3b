"""Replay feeds: JSON-lines files of carrier events or FX observations.

Used two ways: the daemon ingests ``replay.carrier_events`` / ``replay.fx_rates`` files at start
(trusted local input, idempotent, so a restart replays harmlessly), and ``python -m oracle.feed``
plays a file to running operators over HTTP exactly as a carrier would (HMAC-signed posts), for
demos and tests::

    python -m oracle.feed --source carrier --secret-file secrets.json \\
        --url http://127.0.0.1:8701 --url http://127.0.0.1:8702 events.jsonl
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import quote

import httpx

from .errors import InputError, MalformedBody
from .hmac_auth import sign_headers, sign_request_headers
from .normalize import canonical_json

log = logging.getLogger(__name__)


def read_jsonl(path: Path | str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank, non-comment line; a bad line raises MalformedBody."""
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            try:
                obj = json.loads(text)
            except ValueError as exc:
                raise MalformedBody(f"{path}:{lineno}: invalid JSON: {exc}") from None
            if not isinstance(obj, dict):
                raise MalformedBody(f"{path}:{lineno}: expected a JSON object")
            yield lineno, obj


def replay_file(path: Path | str, ingest: Callable[[dict[str, Any], str], tuple[int, dict[str, Any]]],
                source: str) -> dict[str, int]:
    """Feed every line of `path` to `ingest` (the operator's intake); returns outcome counts.
    A refused line is logged and counted, never fatal: the rest of the file still plays."""
    counts: dict[str, int] = {}
    for lineno, obj in read_jsonl(path):
        try:
            _, body = ingest(obj, source)
            key = str(body.get("status", "ok"))
        except InputError as exc:
            log.warning("%s:%d refused: %s", path, lineno, exc)
            key = "refused"
        counts[key] = counts.get(key, 0) + 1
    log.info("replayed %s: %s", path, counts)
    return counts


class CarrierClient:
    """Posts events to an operator the way a carrier does (HMAC-signed)."""

    def __init__(self, base_url: str, source: str, secret: str, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.source = source
        self.secret = secret
        self._http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def post(self, path: str, obj: dict[str, Any] | bytes, *, timestamp: int | None = None,
             sign: bool = True) -> httpx.Response:
        body = obj if isinstance(obj, bytes) else canonical_json(obj)
        headers = (sign_headers(self.source, self.secret, body, timestamp) if sign
                   else {"Content-Type": "application/json"})
        return self._http.post(self.base_url + path, content=body, headers=headers)

    def post_event(self, event: dict[str, Any], **kw: Any) -> httpx.Response:
        return self.post("/carrier-events", event, **kw)

    def post_rate(self, rate: dict[str, Any], **kw: Any) -> httpx.Response:
        return self.post("/fx-rates", rate, **kw)

    def event_status(self, event_id: str) -> httpx.Response:
        """``GET /events/{eventID}``, signed over ``"GET <path>"``."""
        path = "/events/" + quote(event_id, safe="")
        return self._http.get(self.base_url + path, headers=sign_request_headers(self.source, self.secret, "GET", path))


def source_secret(path: Path, source: str) -> str:
    """The secret `source` signs with: `path` holds it alone (one line), or is a credential file
    (``oracle.credentials``) naming the source; its first secret is used."""
    text = path.read_text()
    try:
        doc = json.loads(text)
    except ValueError:
        return text.strip()
    entry = (doc.get("carriers", {}) | doc.get("fxSources", {})).get(source) if isinstance(doc, dict) else None
    if entry is None or not entry.get("secrets"):
        raise SystemExit(f"{path} names no secret for {source!r}")
    first = entry["secrets"][0]
    return first["secret"] if isinstance(first, dict) else first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m oracle.feed", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path, help="JSON lines, one event (or FX observation) per line")
    parser.add_argument("--url", action="append", required=True, help="operator base URL (repeatable)")
    parser.add_argument("--source", required=True, help="carrier / FX source id (X-Tradenet-Carrier)")
    parser.add_argument("--secret-file", type=Path, required=True,
                        help="the source's secret: a file holding it alone, or a credential file naming the source")
    parser.add_argument("--fx", action="store_true", help="the file holds FX observations")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    secret = source_secret(args.secret_file, args.source)
    clients = [CarrierClient(u, args.source, secret) for u in args.url]
    failures = 0
    for lineno, obj in read_jsonl(args.file):
        for c in clients:
            resp = c.post_rate(obj) if args.fx else c.post_event(obj)
            ok = resp.status_code < 300
            failures += not ok
            log.log(logging.INFO if ok else logging.WARNING, "line %d -> %s: %d %s", lineno, c.base_url,
                    resp.status_code, resp.text[:300])
    for c in clients:
        c.close()
    return 1 if failures else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""Schemathesis over an in-process ASGI app: every operation of its OpenAPI document, positive
(schema-valid) and negative (hostile) inputs, a bounded number of examples each, as one caller.

The checks are the conformance ones: no 5xx, every status declared, every body matching its
schema and declared media type. A failing case is recorded (with its curl line) and the run goes
on to the next operation, so one run reports every failing operation, unshrunk.

``TRADENET_FUZZ_EXAMPLES`` sets the examples per operation and mode (CI default below);
``bench/api_fuzz_deep.py`` runs the same with many more.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
#: seconds one call may take (a read timeout is a failure: the API hung)
CALL_TIMEOUT = 20
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


def examples_per_operation(default: int) -> int:
    return int(os.environ.get("TRADENET_FUZZ_EXAMPLES", default))


@dataclass
class FuzzReport:
    """What a run sent and what failed (one failure per operation and mode: the first)."""

    operations: int = 0
    cases: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    by_operation: dict[str, dict[int, int]] = field(default_factory=dict)

    def merge(self, other: "FuzzReport") -> None:
        self.operations = max(self.operations, other.operations)
        self.cases += other.cases
        for s, n in other.statuses.items():
            self.statuses[s] = self.statuses.get(s, 0) + n
        self.failures.update(other.failures)
        for label, t in other.seconds.items():
            self.seconds[label] = self.seconds.get(label, 0.0) + t

    def summary(self) -> str:
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        return f"{self.operations} operations, {self.cases} cases ({statuses}), {len(self.failures)} failing"

    def explain(self) -> str:
        return "\n\n".join(f"== {label}\n{text[:3000]}" for label, text in sorted(self.failures.items()))


def load(app: Any) -> Any:
    """The app's OpenAPI document as a Schemathesis schema bound to the app (in-process calls)."""
    return schemathesis.openapi.from_asgi("/openapi.json", app)


Pins = Callable[[Any, GenerationMode], dict[str, Any]]
#: request signer: (method, path with query, body bytes) -> headers (an HMAC over exactly what is sent)
Signer = Callable[[str, str, bytes], dict[str, str]]


def no_pins(op: Any, mode: GenerationMode) -> dict[str, Any]:
    return {}


def fuzz(schema: Any, *, headers: Callable[[], dict[str, str]] = dict, examples: int = 5,
         include: Callable[[Any], bool] = lambda op: True, pins: Pins = no_pins,
         modes: tuple[GenerationMode, ...] = MODES, tag: str = "", sign: Signer | None = None) -> FuzzReport:
    """Run every operation of `schema` (that `include` accepts) with `examples` cases per mode,
    sending `headers()` (a fresh session per operation: the fuzzer may log out) with each.
    `pins(op, mode)` fixes some inputs (Schemathesis' ``path_parameters=``/``query=``), e.g. an
    operation's path parameters to known objects so the inputs reach past the 404. `sign` signs
    each request as it will be sent (the oracle's HMAC credentials)."""
    report = FuzzReport()
    ops = [r.ok() for r in schema.get_all_operations() if hasattr(r, "ok")]
    ops = [op for op in ops if include(op)]
    report.operations = len(ops)
    for op in ops:
        started = time.monotonic()
        for mode in modes:
            _fuzz_one(op, mode, headers(), examples, pins(op, mode), f"{mode.value}{tag}", report,
                      sign)
        report.seconds[op.label] = time.monotonic() - started
    return report


def _fuzz_one(op: Any, mode: GenerationMode, headers: dict[str, str], examples: int, pinned: dict[str, Any],
              kind: str, report: FuzzReport, sign: Signer | None = None) -> None:
    label = f"{op.label} [{kind}]"
    strategy = op.as_strategy(generation_mode=mode, **pinned)

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case: Any) -> None:
        if label in report.failures:
            return
        call_headers = {**(case.headers or {}), **headers}
        try:
            if sign is None:
                response = case.call(headers=call_headers, timeout=CALL_TIMEOUT)
            else:
                response, call_headers = _send_signed(case, call_headers, sign)
        except Exception as exc:  # the app raised through the transport: a 500 in production
            report.failures[label] = f"{type(exc).__name__}: {exc}"
            return
        report.cases += 1
        report.statuses[response.status_code] = report.statuses.get(response.status_code, 0) + 1
        seen = report.by_operation.setdefault(op.label, {})
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        try:
            case.validate_response(response, checks=CHECKS, headers=call_headers)
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup is a BaseExceptionGroup
            report.failures[label] = str(exc)

    try:
        run()
    except Unsatisfiable:  # nothing to negate: the operation takes no input
        pass
    except Exception as exc:  # strategy could not be built or Hypothesis refused the operation
        report.failures.setdefault(label, f"{type(exc).__name__}: {exc}")


def _send_signed(case: Any, headers: dict[str, str], sign: Signer) -> tuple[Any, dict[str, str]]:
    """Prepare the request Schemathesis would send, sign its exact bytes, send it in-process."""
    import requests
    from schemathesis.python import asgi

    kwargs = case.as_transport_kwargs(base_url=f"http://{asgi.HOST}", headers=headers)
    kwargs.pop("timeout", None)
    kwargs.pop("allow_redirects", None)
    kwargs.pop("verify", None)
    prepared = requests.Request(**kwargs).prepare()
    body = prepared.body or b""
    signed = sign(prepared.method or "GET", prepared.path_url, body.encode() if isinstance(body, str) else body)
    signed.pop("Content-Type", None)  # the generated case's media type stands
    prepared.headers.update(signed)
    with asgi.get_client(case.operation.app) as client:
        return client.send(prepared, timeout=CALL_TIMEOUT), {**headers, **signed}

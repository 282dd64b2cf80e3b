"""Run sizes of the stateful tests, as Hypothesis profiles chosen by ``HYPOTHESIS_PROFILE``.

- ``ci`` (the default of the test run): 200 sequences of up to 30 steps (Hypothesis ends a few
  early: about 25 on average, some 5,300 steps; ~3 min on a 2-core machine), the same ones on every
  run (derandomized);
- ``explore``: the same size, drawn afresh each run;
- ``dev``: 20 x 30, while iterating;
- ``deep``: 2,000 x 60, run by ``bench/stateful_deep.py`` (not in CI).

Examples found failing are kept in the example database (``.hypothesis/`` by default, replayed
first on the next run); each real failure also gets a plain deterministic regression test in
``tests/test_stateful.py``."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

_COMMON = dict(deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])

#: the same 200 sequences on every CI run (derandomize): a red CI means the change broke something,
#: not that this run happened to draw a new sequence; new sequences are drawn by ``dev``, ``deep``
#: (bench/stateful_deep.py) and by any run with ``HYPOTHESIS_PROFILE=explore``
settings.register_profile("ci", max_examples=200, stateful_step_count=30, derandomize=True, **_COMMON)
settings.register_profile("explore", max_examples=200, stateful_step_count=30, **_COMMON)
settings.register_profile("dev", max_examples=20, stateful_step_count=30, **_COMMON)
settings.register_profile("deep", max_examples=2_000, stateful_step_count=60, **_COMMON)
#: no shrinking: a quick look whether a sequence fails at all
settings.register_profile("smoke", max_examples=5, stateful_step_count=30,
                          phases=[Phase.explicit, Phase.reuse, Phase.generate], **_COMMON)


def active() -> settings:
    """The profile named by ``HYPOTHESIS_PROFILE`` (default ``ci``)."""
    return settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

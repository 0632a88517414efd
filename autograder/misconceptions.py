"""Name the misconception behind a wrong answer, not only the first number that differs.

"values differ (max abs difference 0.04) after step 2" tells a student *that* the answer is wrong;
"the momentum buffer should be mu*buf + g, not mu*buf + (1-mu)*g" tells them *why*. A task whose
plausible mistakes are known passes `compare=diagnosed(...)`: its outputs are compared as usual, and
only when they differ is each Misconception asked whether the outputs show it. The first that does
leads the message, followed by the case that differed:

    @task("13.newton_schulz", ..., compare=diagnosed(
        Misconception("the coefficients of X^3 and X^5 look swapped", shows=swapped_coefficients)))

`shows(actual, expected)` is the check's own code, run in the grader's process on the plain data the
exercise returned (never on a student's object); it may rebuild the check's seeded inputs to tell
what a mistake would have produced. A test that raises on malformed data simply does not apply.

`evidence` names output entries that are observations for the tests only (what each block's GELU
computes, say): they are not graded, so an answer that reaches the right outputs another way passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from .compare import CheckFailed, compare_outputs, compare_value


@dataclass(frozen=True)
class Misconception:
    message: str  # what is wrong, and what is right, in one line
    shows: Callable[[Any, Any], bool]  # (the student's outputs, the reference outputs) -> does this explain them?


def matches(actual: Any, wanted: Any, rtol: float = 1e-4, atol: float = 1e-5) -> bool:
    """Whether plain outputs equal `wanted` within the compare's tolerances (for a Misconception's test)."""
    try:
        compare_value(actual, wanted, rtol, atol)
    except CheckFailed:
        return False
    return True


def diagnosed(*misconceptions: Misconception, compare: Callable[[Any, Any], None] = compare_outputs,
              evidence: tuple[str, ...] = ()) -> Callable[[Any, Any], None]:
    """A task's compare: `compare` on the graded outputs; when it fails, the first misconception shown."""

    def graded(outputs: Any) -> Any:
        if evidence and isinstance(outputs, dict):
            return {label: value for label, value in outputs.items() if label not in evidence}
        return outputs

    def judge(actual: Any, expected: Any) -> None:
        try:
            compare(graded(actual), graded(expected))
        except CheckFailed as err:
            for misconception in misconceptions:
                try:
                    shown = bool(misconception.shows(actual, expected))
                except Exception:  # noqa: BLE001 - malformed outputs: this misconception does not apply
                    shown = False
                if shown:
                    raise CheckFailed(f"{misconception.message} ({err})") from None
            raise

    judge.__wrapped__ = compare  # inspect.unwrap(task.compare): the comparison underneath the diagnoses
    return judge


def as_if(rebuild: Callable[[], Any]) -> Callable[[Any, Any], bool]:
    """A Misconception's test: the student's outputs are rebuild()'s, i.e. the check's own exercise run
    here with the mistake in place of the student's code (the grader's random state is kept)."""
    def shows(actual: Any, expected: Any) -> bool:
        with torch.random.fork_rng(devices=[]):
            return matches(actual, rebuild())
    return shows


def every_case(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    """A Misconception's test: test(the student's value, the reference's value) holds in every case."""
    return lambda actual, expected: all(test(actual[label], want) for label, want in expected.items())

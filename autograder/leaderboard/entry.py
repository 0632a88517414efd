"""One leaderboard entry end to end: the run file's rules, training in the jail, the judge.

    result = run_entry(folder, "alice", reference, isolation)   # folder: NN_slug/ lesson folders + capstone_run.json

Order: the run file is read and checked against the rules (refused with one line, nothing trains);
the student's lessons train the GPT in a jailed worker (CPU-time limit from the run's FLOPs, memory
from the rules); the trusted judge evaluates the weights. The Result holds only what this process
computed or chose: the jail's outcome becomes one of a few fixed phrases.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..jail.child import Job
from ..jail.client import Isolation, run_jobs
from ..jail.limits import cpu_reason
from ..source import Source
from . import rules as R
from .judge import Reference, WeightsRefused, judge
from .trainer import NOT_ORDINARY

RANKED, REFUSED, FAILED = "ranked", "refused", "failed"
TASK = "capstone.train"
# what an entry reads when judging its weights raised something no check foresaw: the judge reads
# whatever torch.load rebuilds, and one student's odd tensor must not stop the class's leaderboard
UNJUDGED = "the trained weights could not be judged (something in them no check foresaw): they were not ranked"


@dataclass
class Result:
    name: str
    status: str  # RANKED, REFUSED (the run file breaks a rule) or FAILED (training or its weights)
    reason: str = ""
    preset: str = ""
    settings: dict = field(default_factory=dict)
    params: int = 0
    tokens: int = 0
    steps: int = 0
    val: float | None = None
    train: float | None = None
    curve: list = field(default_factory=list)
    sample: str = ""
    reference: bool = False  # one of the course's presets, not a student's entry

    def to_dict(self) -> dict:
        return asdict(self)


def failure_reason(outcome, cpu_seconds: float) -> str:
    """The jail's outcome as one of our phrases (a worker's limit phrase is ours: forging it changes nothing)."""
    if outcome.status == "not_started":
        return "a lesson the capstone needs is not done yet (a stub still raises NotImplementedError): make grade"
    if outcome.reason == cpu_reason(cpu_seconds):
        return f"training used more than its {cpu_seconds:g} s of CPU time (the limit follows from the budget)"
    if outcome.reason.startswith(("was killed, probably for using more than", "used more than")):
        return "training used more memory than the jail allows"
    if outcome.reason == NOT_ORDINARY:
        return ("your GPT's state_dict holds sparse or meta-device tensors: the leaderboard takes ordinary "
                "(dense, CPU) tensors")
    if outcome.reason.startswith("did not finish within"):
        return "training stopped making progress (blocked or sleeping?) and ran out of wall-clock time"
    return "your lessons' code raised an error while training: `make train` shows it"


def run_entry(folder: Path, name: str, reference: Reference, isolation: Isolation, rules: R.Rules = R.RULES,
              request: dict | None = None, is_reference: bool = False) -> Result:
    """Judge the entry in `folder` (its run file, or `request`); never raises for what a student did."""
    folder = Path(folder)
    try:
        if request is None:
            request = R.parse_run_file(folder / R.RUN_FILE)
        run = R.resolve(request, rules, reference.count_params)
        missing = R.missing_lessons(run, Source(folder).lessons())
        if missing:
            raise R.RunRefused(f"the run trains with lessons {', '.join(missing)}, and no notebook was submitted "
                               f"for {'it' if len(missing) == 1 else 'them'}")
    except R.RunRefused as err:
        return Result(name, REFUSED, str(err), reference=is_reference)
    params = reference.count_params(run.settings)
    result = Result(name, FAILED, preset=run.preset, settings=run.settings, params=params, tokens=run.tokens,
                    steps=run.steps, reference=is_reference)
    cpu = R.cpu_seconds(run, params, rules)
    job = Job(id=1, task=TASK, kind="train", notebook=str(folder.resolve()), timeout=cpu,
              memory_gib=rules.memory_gib,
              settings={**run.to_dict(), "seed": rules.seed, "curve_points": rules.curve_points})
    outcome = run_jobs([job], isolation, readable=[folder.resolve()], parallel=1)[job.id]
    if outcome.status != "ok":
        result.reason = failure_reason(outcome, cpu)
        return result
    try:
        snapshots = outcome.value.get("snapshots") if isinstance(outcome.value, dict) else None
        verdict = judge(reference, {**run.settings, "steps": run.steps}, snapshots, rules)
    except WeightsRefused as err:
        result.reason = str(err)
        return result
    except Exception:  # noqa: BLE001 - see UNJUDGED; a fixed phrase, as the exception's text may quote the weights
        result.reason = UNJUDGED
        return result
    result.status, result.val, result.train, result.sample = RANKED, verdict.val, verdict.train, verdict.sample
    result.curve = [list(point) for point in verdict.curve]
    return result

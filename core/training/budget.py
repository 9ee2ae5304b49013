"""Training for a time budget ("train for 5 minutes"): the steps that fit are planned from the measured step
time, the learning rate follows one cycle over those planned steps (a short warm-up, then cosine down to a floor
at the planned end), validation runs a fixed sample of tiles a bounded number of times, and the run stops on
time. The plan is re-made after every step from the measured times, so a machine that gets busier or freer moves
the planned end, not the deadline. The plan is plain data kept in checkpoints: a killed run resumes with the
budget it had left, and a finished run can be given more minutes (a new, gentler cycle)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

WARMUP_SHARE = 0.05  # of the planned steps, the learning rate rises from a tenth of its peak
LR_FLOOR = 0.01  # the learning rate at the planned end, as a share of the peak
DEFAULT_MINUTES = 5.0  # what the window offers first
CONTINUE_PEAK = 0.3  # a budget added to a run continues with this share of its learning rate
VALIDATION_SHARE = 0.1  # the share of the budget validation may take
SECONDS_PER_ROUND = 30  # about one validation per this many seconds of budget ...
MIN_ROUNDS, MAX_ROUNDS = 3, 20  # ... but at least and at most this many
MIN_VAL_TILES = 8
FORWARD_SHARE = 1 / 3  # a forward pass (validation) as a share of a training step
STEP_SMOOTHING = 0.2  # weight of the newest step in the step-time average


@dataclass
class BudgetPlan:
    """The state of a budgeted run. Seconds are the run's elapsed time, earlier parts of a resumed run included."""

    end_seconds: float  # the run must be done by then
    peak_lr: float
    phase_start_step: int = 0  # steps done when this budget (or the minutes added to it) began
    phase_start_seconds: float = 0.0
    phase_start_round: int = 0  # validation rounds (epochs) done before this phase
    rounds: int = MIN_ROUNDS  # validations planned in this phase, the last one at the planned end
    rounds_done: int = 0
    steps_done: int = 0
    planned_end_step: int | None = None  # None until a step was timed
    step_seconds: float | None = None
    validation_seconds: float | None = None  # the last validation's time
    val_tiles: int | None = None  # the fixed validation sample, chosen with the first plan
    finished: bool = False

    @classmethod
    def start(cls, minutes: float, peak_lr: float, elapsed: float = 0.0, steps_done: int = 0,
              rounds_done: int = 0) -> BudgetPlan:
        """A plan for `minutes` more from `elapsed`. A run that already trained (`steps_done` or `rounds_done`
        given: minutes added to it) starts from a lower peak, so it refines its weights rather than unlearns."""
        seconds = minutes * 60
        rounds = min(MAX_ROUNDS, max(MIN_ROUNDS, round(seconds / SECONDS_PER_ROUND)))
        continuing = steps_done > 0 or rounds_done > 0
        return cls(end_seconds=elapsed + seconds, peak_lr=peak_lr * (CONTINUE_PEAK if continuing else 1.0),
                   phase_start_step=steps_done, phase_start_seconds=elapsed, phase_start_round=rounds_done,
                   rounds=rounds, steps_done=steps_done)

    @property
    def total_minutes(self) -> float:
        return self.end_seconds / 60

    # the schedule ------------------------------------------------------------------------------
    def learning_rate(self) -> float:
        """One cycle over the planned steps of this phase: warm-up, then cosine to LR_FLOOR x peak."""
        if self.planned_end_step is None:
            return self.peak_lr * 0.1
        span = max(self.planned_end_step - self.phase_start_step, 1)
        progress = min(max((self.steps_done - self.phase_start_step) / span, 0.0), 1.0)
        if progress < WARMUP_SHARE:
            return self.peak_lr * (0.1 + 0.9 * progress / WARMUP_SHARE)
        cosine = 0.5 * (1 + math.cos(math.pi * (progress - WARMUP_SHARE) / (1 - WARMUP_SHARE)))
        floor = self.peak_lr * LR_FLOOR
        return floor + (self.peak_lr - floor) * cosine

    # timing and planning ----------------------------------------------------------------------
    def record_step(self, step_seconds: float | None, elapsed: float, batch_size: int, total_val_tiles: int) -> None:
        """Count a finished training step and re-plan from the time left; `step_seconds` None: a step that paid
        for one-off set-up (the first after a start or resume), counted but not timed."""
        self.steps_done += 1
        if step_seconds is None:
            return
        self.step_seconds = step_seconds if self.step_seconds is None else \
            (1 - STEP_SMOOTHING) * self.step_seconds + STEP_SMOOTHING * step_seconds
        if self.val_tiles is None:
            self.val_tiles = self._validation_sample(batch_size, total_val_tiles)
        self._replan(elapsed, batch_size)

    def record_validation(self, seconds: float, elapsed: float, batch_size: int) -> None:
        self.validation_seconds = seconds
        self.rounds_done += 1
        if self.step_seconds is not None:
            self._replan(elapsed, batch_size)

    def _validation_estimate(self, batch_size: int) -> float:
        if self.validation_seconds is not None:
            return self.validation_seconds
        if self.step_seconds is None or not self.val_tiles:
            return 0.0
        return math.ceil(self.val_tiles / batch_size) * self.step_seconds * FORWARD_SHARE

    def _validation_sample(self, batch_size: int, total_tiles: int) -> int:
        """As many tiles as fit the validation share of the budget, at least MIN_VAL_TILES (or all there are)."""
        allowance = VALIDATION_SHARE * (self.end_seconds - self.phase_start_seconds) / self.rounds
        per_tile = self.step_seconds * FORWARD_SHARE / batch_size
        return min(total_tiles, max(MIN_VAL_TILES, int(allowance / per_tile)))

    def _replan(self, elapsed: float, batch_size: int) -> None:
        validations_left = max(self.rounds - self.rounds_done, 1)
        train_seconds = self.end_seconds - elapsed - validations_left * self._validation_estimate(batch_size)
        self.planned_end_step = self.steps_done + max(int(train_seconds / self.step_seconds), 0)

    # when to validate and stop ----------------------------------------------------------------
    @property
    def steps_per_round(self) -> int:
        if self.planned_end_step is None:
            return 1 << 30
        return max(1, math.ceil((self.planned_end_step - self.phase_start_step) / self.rounds))

    def round_is_over(self, steps_in_round: int, elapsed: float, batch_size: int) -> bool:
        """Validate now: this round's steps are done, or the planned end is reached, or time is short."""
        return steps_in_round >= self.steps_per_round or self.training_is_over(elapsed, batch_size)

    def training_is_over(self, elapsed: float, batch_size: int) -> bool:
        """No more training steps: the planned steps are done, or only the final validation's time is left."""
        if self.planned_end_step is not None and self.steps_done >= self.planned_end_step:
            return True
        return elapsed + self._validation_estimate(batch_size) >= self.end_seconds

    def seconds_left(self, elapsed: float) -> float:
        return max(self.end_seconds - elapsed, 0.0)

    @property
    def planned_rounds(self) -> int:
        """The epoch count reports show: rounds of earlier phases plus this phase's (more when a round was added)."""
        return self.phase_start_round + max(self.rounds, self.rounds_done + (0 if self.finished else 1))

    # storage ----------------------------------------------------------------------------------
    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> BudgetPlan:
        return cls(**data)


def validation_sample(total: int, count: int) -> list[int]:
    """`count` tile indices spread evenly over `total` (every image gets its share), always the same ones."""
    if count >= total:
        return list(range(total))
    step = total / count
    return [int(i * step) for i in range(count)]

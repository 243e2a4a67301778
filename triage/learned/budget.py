"""The review budget: the share of tickets the duty office can check, spent on the least confident.

A fixed confidence threshold chosen on the training corpus's folds flags whatever share of live
tickets happens to fall under it: on the frozen holdout, which reads easier than the folds, the
artefact's threshold flagged 9 % and caught a third of the wrong tickets, while the reviewers had
room for a quarter. The budget instead keeps the confidences of the last ``window`` tickets the
model decided and flags a new ticket when it is among the least confident ``load`` of them,
forced reviews (quarantined instructions) counted against the same budget. Two rules bound it:

- a ticket the calibrator thinks more likely wrong than right (below ``floor``) is always
  reviewed, even when that goes over budget: the budget buys more review, never less;
- until ``warmup`` tickets were seen (a fresh process), the artefact's threshold applies.

The state is per process and in memory: after a restart the first ``warmup`` tickets use the
artefact's threshold again. Tickets the rules decide alone (devices only) count in the window,
so the budget is the share of all tickets. Several triage workers each keep their own window over their own
partitions, which is the same budget when partitions are alike.
"""

from __future__ import annotations

import threading
from collections import deque

# Above any probability: a rules-decided ticket sorts after every model confidence.
_NEVER = 2.0


class ReviewBudget:
    def __init__(self, load: float, prior: float, *, window: int = 500, warmup: int = 50,
                 floor: float = 0.5) -> None:
        if not 0.0 <= load <= 1.0:
            raise ValueError(f"review budget must be a share between 0 and 1, not {load}")
        self.load = load
        self.prior = prior
        self.floor = floor
        self.warmup = warmup
        self._recent: deque[tuple[float, bool]] = deque(maxlen=window)
        self._lock = threading.Lock()

    def threshold(self) -> float:
        """Confidences strictly below this ask for review (the floor included)."""
        with self._lock:
            seen = list(self._recent)
        if len(seen) < self.warmup:
            return max(self.prior, self.floor)
        free = sorted(c for c, forced in seen if not forced)
        # Reviews left for confidence once the forced ones are paid for, out of the same window.
        k = int(self.load * len(seen)) - (len(seen) - len(free))
        if k <= 0 or not free:
            return self.floor
        if k >= len(free):
            return _NEVER
        # Strictly below the (k+1)-th least confident: at most k flagged, ties accepted.
        return max(min(free[k], _NEVER), self.floor)

    def observe_rules(self, *, flagged: bool) -> None:
        """A ticket the rules decided alone (devices only) takes its share of the budget too:
        flagged, it is a forced review; not flagged, it is one more ticket nobody reviews."""
        with self._lock:
            self._recent.append((_NEVER, flagged))

    def decide(self, confidence: float, *, forced: bool) -> tuple[bool, float]:
        """Whether this ticket asks for review on confidence, and the threshold that said so;
        the ticket then joins the window."""
        threshold = self.threshold()
        with self._lock:
            self._recent.append((confidence, forced))
        return confidence < threshold, threshold

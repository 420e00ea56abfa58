"""Several invoices in one payment, none named: which of the payer's open invoices sum to the amount?

A bounded exact search: the candidates are the payer's open invoices no larger
than the payment, at most ``max_candidates`` of them (the oldest first, the
ones a payer clears first); subsets of ``min_size`` to ``max_size`` invoices;
at most ``max_nodes`` search steps.  It stops at the second solution, because
two subsets that fit are a question for a person, not a guess.

>>> find_subsets(1500, [1000, 500, 700, 800], max_size=3)
SubsetResult(solutions=[(0, 1), (2, 3)], complete=True)
>>> find_subsets(1500, [1000, 500, 300], max_size=3).solutions
[(0, 1)]
>>> find_subsets(1500, [1000, 500, 500], max_size=3).solutions
[(0, 1), (0, 2)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(slots=True)
class SubsetResult:
    """Up to ``limit`` solutions (tuples of candidate positions) and whether the search ran to its end."""

    solutions: list[tuple[int, ...]]
    complete: bool


def find_subsets(
    target: int,
    amounts: Sequence[int],
    *,
    min_size: int = 2,
    max_size: int = 5,
    max_nodes: int = 50000,
    limit: int = 2,
) -> SubsetResult:
    """Subsets of ``amounts`` (positive integer cents) whose sum is exactly ``target``.

    Depth-first over the amounts sorted large to small, pruned by the running
    sum and by what the remaining amounts can still add.  ``complete`` is
    False when the node budget ran out before the search did: then the
    solutions found are not known to be all.
    """
    order = sorted((i for i in range(len(amounts)) if 0 < amounts[i] <= target), key=lambda i: -amounts[i])
    values = [amounts[i] for i in order]
    n = len(values)
    # suffix[k] = sum of values[k:], the most the rest can still add
    suffix = [0] * (n + 1)
    for k in range(n - 1, -1, -1):
        suffix[k] = suffix[k + 1] + values[k]
    solutions: list[tuple[int, ...]] = []
    nodes = 0
    chosen: list[int] = []

    def walk(start: int, remaining: int) -> bool:
        nonlocal nodes
        for k in range(start, n):
            nodes += 1
            if nodes > max_nodes:
                return False
            if suffix[k] < remaining:
                return True  # even everything left cannot reach the target
            v = values[k]
            if v > remaining:
                continue
            chosen.append(k)
            if v == remaining:
                if len(chosen) >= min_size:
                    solutions.append(tuple(sorted(order[j] for j in chosen)))
                    if len(solutions) >= limit:
                        chosen.pop()
                        return False
            elif len(chosen) < max_size:
                if not walk(k + 1, remaining - v):
                    chosen.pop()
                    return False
            chosen.pop()
        return True

    complete = walk(0, target) if target > 0 else True
    if len(solutions) >= limit:
        complete = True  # stopped on purpose: enough to know it is not unique
    return SubsetResult(sorted(solutions), complete)

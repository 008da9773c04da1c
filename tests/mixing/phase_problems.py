"""One builder of small per-phase solver problems (mixing.solve.PhaseProblem) for the solver's guard
tests (test_mixing_solve_branches.py, test_mixing_mutation_guards.py).

Source i is ``s{i}`` in its own domain ``d{i}``; a sequence is 10 tokens and the budget 100 sequences
unless given, so shares, caps and allocations read as whole sequences and "one sequence" is exactly 1.0.
"""

import numpy as np

from mixing.solve import PhaseProblem


def phase_problem(desired, epoch_cap, share_cap=10_000, budget=100, mode="error", general=None, **kw):
    """A phase wanting ``desired`` (shares of the budget), each source capped at ``epoch_cap`` sequences
    by its epochs and at ``share_cap`` by ``max_source_share``; ``kw`` sets the other PhaseProblem
    fields (synthetic, max_synthetic_share)."""
    n = len(desired)
    return PhaseProblem(
        name="p",
        sources=[f"s{i}" for i in range(n)],
        domain_codes=np.arange(n),
        domains=[f"d{i}" for i in range(n)],
        general=np.zeros(n, bool) if general is None else np.asarray(general),
        desired=np.asarray(desired, dtype=np.float64),
        epoch_cap_seq=np.asarray(epoch_cap, dtype=np.int64),
        share_cap_seq=share_cap,
        budget_seq=budget,
        seq_len=10,
        min_general_share=0.0,
        min_seq=1,
        mode=mode,
        **kw,
    )

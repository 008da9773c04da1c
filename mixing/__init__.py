"""midtrain mixing stage: plan a data mixture over training phases (``inventory -> plan``).

    from mixing import MixConfig, PhaseConfig, plan_mixture, write_plan
    plan = plan_mixture(inventory, MixConfig.from_yaml("mix.yaml"))
    write_plan(plan, "runs/plan", config=config)

The plan file is documented in ``mixing/schema.py``.
"""

from mixing.apportion import effective_tokens, largest_remainder
from mixing.config import CurriculumConfig, MixConfig, PhaseConfig
from mixing.greedy import greedy_blend_order, greedy_blend_order_loop
from mixing.planner import PlanReport, plan_mixture, plan_mixture_report
from mixing.schema import PLAN_COLUMNS, check_plan, read_plan
from mixing.strategies import STRATEGIES
from mixing.writer import summarize_plan, write_plan

__all__ = [
    "PLAN_COLUMNS",
    "STRATEGIES",
    "CurriculumConfig",
    "MixConfig",
    "PhaseConfig",
    "PlanReport",
    "check_plan",
    "effective_tokens",
    "greedy_blend_order",
    "greedy_blend_order_loop",
    "largest_remainder",
    "plan_mixture",
    "plan_mixture_report",
    "read_plan",
    "summarize_plan",
    "write_plan",
]

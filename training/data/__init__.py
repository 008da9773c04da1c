"""Data side of training: plan-following, packing, DP-sharded, resumable loading of token shards."""

from training.data.loader import Batch, PlanLoader
from training.data.schedule import Phase, build_phases, greedy_blend
from training.data.shards import SourceShards

__all__ = ["Batch", "Phase", "PlanLoader", "SourceShards", "build_phases", "greedy_blend"]

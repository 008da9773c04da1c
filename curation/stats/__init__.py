"""Per-source counting steps (tokens, quality, difficulty) and datatrove stats merging."""

from curation.stats.merge import load_stage_stats
from curation.stats.source_stats import SourceStats

__all__ = ["SourceStats", "load_stage_stats"]

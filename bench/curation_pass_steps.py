"""Pass-through datatrove steps for the curation benches: what a step costs before its own work.

- ``BareStep`` only hands each document on: the generator chain's own cost;
- ``CountedStep`` also times a block and counts one stat and the document stats through
  ``BatchedStats``, as midtrain's steps do.
"""

from __future__ import annotations

from datatrove.pipeline.base import PipelineStep

from curation.stats.batched import BatchedStats


class BareStep(PipelineStep):
    name = "pass"

    def run(self, data, rank=0, world_size=1):
        yield from data


class CountedStep(BatchedStats, PipelineStep):
    name = "pass"

    def run(self, data, rank=0, world_size=1):
        for doc in data:
            with self.track_time():
                self.stat_update("documents")
                self.update_doc_stats(doc)
            yield doc

"""midtrain curation stage: datatrove pipelines that read, filter, dedup, tag and decontaminate.

``run_curation(CurationConfig, out_dir) -> CurationResult`` writes the files described in
``curation/schema.py``; ``midtrain curate CONFIG.yaml --out DIR`` is the same from the shell.
"""

from curation.config import CurationConfig, SourceConfig
from curation.pipeline import CurationResult, run_curation

__all__ = ["CurationConfig", "CurationResult", "SourceConfig", "run_curation"]

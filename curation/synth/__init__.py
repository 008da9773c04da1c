"""Synthetic data and model-graded quality, as datatrove steps on datatrove's ``InferenceRunner``.

``synthesize:`` in a curation config (``SynthesizeConfig``) rephrases, writes QA pairs, solves
problems or runs a custom prompt over curated sources and adds the outputs as new sources
(``stages.py``); ``grade.py`` grades a sample with a model and distils the grades into a fastText
quality classifier. Docs: docs/curation_synthetic.md.
"""

from curation.synth.config import BackendConfig, GenerationConfig, SynthesizeConfig, SynthJob

__all__ = [
    "BackendConfig",
    "GenerationConfig",
    "SynthJob",
    "SynthesizeConfig",
]  # GradeConfig: grade_config.py

"""``GradeConfig``: the model-graded quality run (``curation/synth/grade.py``), one pydantic model."""

from __future__ import annotations

from pydantic import Field, model_validator

from curation.classifiers.train import FastTextConfig
from curation.synth.config import GRADE_FIELDS, BackendConfig, GenerationConfig, _Model, check_template


class GradeConfig(_Model):
    """Model-graded quality: grade a sample with a model, distil the grades into fastText."""

    backend: BackendConfig
    generation: GenerationConfig = Field(
        default_factory=lambda: GenerationConfig(max_new_tokens=64, temperature=0.0)
    )
    inputs: list[str] = Field(min_length=1, description="curated folders or jsonl[.gz] files to sample")
    sample: int = Field(2000, ge=10, description="documents graded (a seeded sample over all inputs)")
    seed: int = Field(0, description="seed of the sample and of the train/held-out split")
    prompt: str | None = Field(
        None, description=f"grading template with fields {list(GRADE_FIELDS)}; default: educational value 0-5"
    )
    prompt_id: str = Field("edu", description="names the grades file and the model")
    max_grade: int = Field(5, ge=1, description="grades are integers 0..max_grade")
    threshold: int = Field(3, ge=1, description="grade >= threshold is the positive class")
    holdout_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="graded docs held out for agreement")
    max_input_chars: int = Field(4000, ge=1, description="document text cut to this many characters")
    fasttext: FastTextConfig = Field(default_factory=FastTextConfig)
    records_per_chunk: int = Field(500, ge=1, description="documents per checkpoint chunk")

    @model_validator(mode="after")
    def _check(self) -> GradeConfig:
        if self.prompt is not None:
            check_template(self.prompt, GRADE_FIELDS)
        if self.threshold > self.max_grade:
            raise ValueError(f"threshold {self.threshold} is above max_grade {self.max_grade}")
        return self

"""Built-in prompts, each with a versioned id written into every output document's metadata.

Rephrase styles follow WRAP (Maini et al. 2024: "like Wikipedia", "as questions and answers",
textbook-like); ``qa`` follows Nemotron-CC's DiverseQA; ``solve`` asks for a worked solution that
ends in a final answer (OLMo 2's Dolmino synthetic math). A job's own ``prompt`` replaces the
built-in one and gets the id ``<task_id>/custom-<sha8>`` so two templates never share an id.
"""

from __future__ import annotations

import hashlib

from curation.synth.config import SynthJob

PROMPTS: dict[str, tuple[str, str]] = {
    "rephrase_wiki": (
        "rephrase_wiki/v1",
        "For the following paragraph give me a diverse paraphrase of the same in high quality English "
        "language as in sentences on Wikipedia.\n\n{text}\n\nParaphrase:",
    ),
    "rephrase_qa": (
        "rephrase_qa/v1",
        "Convert the following paragraph into a conversational format with multiple tags of "
        '"Question:" followed by "Answer:".\n\n{text}\n\nConversation:',
    ),
    "rephrase_textbook": (
        "rephrase_textbook/v1",
        "Rewrite the following text as a clear, well-structured section of a textbook for students, "
        "keeping every fact and explaining each step.\n\n{text}\n\nTextbook section:",
    ),
    "qa": (
        "qa/v1",
        "Read the text below and write several diverse question-answer pairs about it, each as "
        '"Question: ..." then "Answer: ...". Cover facts, reasoning and definitions; answers must '
        "follow from the text.\n\n{text}\n\nQuestion-answer pairs:",
    ),
    "solve": (
        "solve/v1",
        "Solve the following problem step by step. Show every step of the reasoning, then give the "
        'final answer on its own line as "Final answer: ...".\n\nProblem:\n{text}\n\nSolution:',
    ),
}

GRADE_PROMPT = (
    "edu/v1",
    "Below is an extract from a web page. Evaluate whether it has a high educational value and could "
    "be useful in an educational setting for teaching from primary school to grade school levels, "
    "using an additive 5-point scoring system (0 = no educational value, 5 = outstanding).\n\n"
    "Extract: {text}\n\nAfter examining the extract, briefly justify your total score, then conclude "
    'with the score in the format: "Educational score: <total points>"',
)


def custom_id(task_id: str, template: str) -> str:
    return f"{task_id}/custom-{hashlib.sha256(template.encode()).hexdigest()[:8]}"


def job_prompt(job: SynthJob) -> tuple[str, str]:
    """``(prompt_id, template)`` of a job."""
    if job.prompt is not None:
        return custom_id(job.task_id, job.prompt), job.prompt
    return PROMPTS[job.task_id]


def render(template: str, *, text: str, max_chars: int, **fields) -> str:
    """Fill a template; ``text`` is cut to ``max_chars`` characters (at a space when one is near)."""
    if len(text) > max_chars:
        cut = text.rfind(" ", 0, max_chars)
        text = text[: cut if cut > max_chars * 0.8 else max_chars]
    return template.format(text=text, **fields)

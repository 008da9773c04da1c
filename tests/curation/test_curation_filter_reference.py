"""docs/curation_filters.md is generated from the filters' signatures and profiles: never stale."""

from pathlib import Path

from curation.filters.profiles import valid_options
from curation.filters.reference import MEANINGS, render

DOC = Path(__file__).resolve().parents[2] / "docs" / "curation_filters.md"


def test_filter_reference_is_fresh():
    assert DOC.read_text() == render(), (
        "regenerate: python -m curation.filters.reference docs/curation_filters.md"
    )


def test_every_option_has_a_meaning():
    for name, meanings in MEANINGS.items():
        missing = [
            o
            for o in valid_options(name)
            if o not in meanings and o != "allow_edits" and not o.startswith("min_alpha")
        ]
        assert not missing, (name, missing)

"""Filter profiles: which heuristic filters judge a source, with which options, by the kind of text.

Web-crawl heuristics are for web crawl. On real clean data the stock datatrove filters do harm
(``bench/bench_curation_real.py``, December 2026): Gopher's quality rules drop 97 % of WikiText
articles and 87 % of Shakespeare's paragraphs, C4 drops 38 % of GSM8K and rewrites most of the
rest, FineWeb drops every WikiText article and 97 % of the Flask source files. So a source says
what it is, ``kind``, and gets the profile of that kind:

=============  ==================================================================================
kind           filters (options over datatrove's stock ones)
=============  ==================================================================================
``web``        Gopher quality + Gopher repetition + C4 (judge only) + FineWeb, stock thresholds
``curated``    encyclopedias, books, papers: Gopher quality with only its junk checks (symbols,
               bullets, ellipses, word length), Gopher repetition on whole lines and long n-grams
``math``       like ``curated`` without the symbol check (``####``, ``<<2*3=6>>``), at least 5 words
``instruction`` like ``math`` (prompts and answers are formulaic)
``code``       ``code_quality`` (line length, alphanumeric share), no prose rules
=============  ==================================================================================

``kind: auto`` (the default) takes the kind from the source's ``domain``: code -> code, math and
reasoning -> math, instruction -> instruction, anything else (general, or none) -> curated. A web
crawl should say ``kind: web``. Every option is a keyword argument of the datatrove filter (or of
``CodeQualityFilter``) plus ``allow_edits`` (midtrain's: may the filter rewrite the text it keeps;
default false, so C4 judges a page by its line rules but never removes its lines).

Options merge, they never replace: datatrove's defaults < the built-in profile < ``filters.<name>``
(for every profile that runs the filter) < ``filters.profiles.<kind>.<name>``. ``null`` for a
whole filter in ``filters.profiles.<kind>`` removes it from that profile.
"""

from __future__ import annotations

import copy
import inspect
from functools import cache

KINDS = ("web", "curated", "math", "instruction", "code")
FILTER_ORDER = ("gopher_quality", "gopher_repetition", "c4", "fineweb", "code_quality")
MIDTRAIN_OPTIONS = {"allow_edits": "may the filter rewrite the text of documents it keeps (default false)"}
# Clearer spellings accepted for datatrove's options whose names mislead.
OPTION_ALIASES = {
    "gopher_quality": {"min_alpha_words_ratio": "max_non_alpha_words_ratio"},
}

# Measured on the real sets (wikitext articles, shakespeare paragraphs, gsm8k q+a, humaneval,
# flask files): each check kept below drops at most 0.1 % of any of them. The checks left out are
# the ones that judge length, stop words and the alphabetic share, which clean non-web text fails.
_JUNK_CHECKS_ONLY = {
    "min_doc_words": None,
    "max_doc_words": None,
    "min_avg_word_length": 2,
    "max_avg_word_length": 15,
    "max_non_alpha_words_ratio": None,
    "min_stop_words": None,
}
# Whole-line and long-n-gram repetition catch pasted junk; top-n-gram shares are left out: a
# short clean paragraph ("Speak, speak.") always has a large top 2-gram share.
_REPETITION = {
    "dup_line_frac": 0.5,
    "dup_para_frac": 0.5,
    "dup_line_char_frac": 0.5,
    "dup_para_char_frac": 0.5,
    "top_n_grams": [],
    "dup_n_grams": [[5, 0.3], [10, 0.25]],
}

BUILTIN_PROFILES: dict[str, dict[str, dict]] = {
    "web": {
        "gopher_quality": {},
        "gopher_repetition": {},
        # curly brackets are allowed: technical pages and math use them
        "c4": {"filter_curly_bracket": False},
        "fineweb": {},
    },
    "curated": {"gopher_quality": dict(_JUNK_CHECKS_ONLY), "gopher_repetition": dict(_REPETITION)},
    # A problem or a worked answer has at least 5 words (every GSM8K question+answer has 30+);
    # "Click here." or "Page 2 of 7" in a math source is junk. Curated prose has no such floor:
    # 8 % of Shakespeare's paragraphs ("Speak, speak.") are shorter.
    "math": {
        "gopher_quality": {**_JUNK_CHECKS_ONLY, "min_doc_words": 5, "max_symbol_word_ratio": None},
        "gopher_repetition": dict(_REPETITION),
    },
    "instruction": {
        "gopher_quality": {**_JUNK_CHECKS_ONLY, "min_doc_words": 5, "max_symbol_word_ratio": None},
        "gopher_repetition": dict(_REPETITION),
    },
    "code": {"code_quality": {}},
}
_KIND_OF_DOMAIN = {"code": "code", "math": "math", "reasoning": "math", "instruction": "instruction"}


def source_kind(kind: str, domain: str | None) -> str:
    """The profile a source uses: its ``kind``, or for ``auto`` the one its domain implies."""
    if kind != "auto":
        return kind
    return _KIND_OF_DOMAIN.get(domain or "", "curated")


def filter_class(name: str):
    from curation.filters.heuristics import FILTER_CLASSES

    return FILTER_CLASSES[name]


@cache
def valid_options(name: str) -> tuple[str, ...]:
    """Keyword options a filter takes (datatrove's signature + midtrain's), sorted."""
    from curation.filters.heuristics import BASE_CLASSES

    params = inspect.signature(BASE_CLASSES[name].__init__).parameters
    names = {p for p in params if p not in ("self", "exclusion_writer", "language", "args", "kwargs")}
    return tuple(sorted(names | set(MIDTRAIN_OPTIONS) | set(OPTION_ALIASES.get(name, {}))))


def stock_options(name: str) -> dict:
    """datatrove's (or CodeQualityFilter's) default for every option of filter ``name``."""
    from curation.filters.heuristics import BASE_CLASSES

    params = inspect.signature(BASE_CLASSES[name].__init__).parameters
    return {
        k: p.default
        for k, p in params.items()
        if k not in ("self", "exclusion_writer", "language") and p.default is not inspect.Parameter.empty
    }


def check_options(name: str, options: dict, where: str) -> dict:
    """``options`` with aliases resolved; ValueError naming ``where`` and the valid names."""
    if not isinstance(options, dict):
        raise ValueError(f"{where}: expected a mapping of options, got {options!r}")
    known = valid_options(name)
    unknown = sorted(k for k in options if k not in known)
    if unknown:
        raise ValueError(
            f"{where}: unknown option(s) {unknown} for filter {name!r}; valid: {', '.join(known)}"
        )
    aliases = OPTION_ALIASES.get(name, {})
    out = {}
    for k, v in options.items():
        if k in aliases:
            if aliases[k] in options:
                raise ValueError(f"{where}: {k!r} and {aliases[k]!r} are the same option; give one")
            # datatrove's max_non_alpha_words_ratio is a *minimum* share of words with a letter
            k = aliases[k]
        out[k] = v
    return out


def resolve_profiles(filters_config) -> dict[str, dict[str, dict]]:
    """Per kind, per filter, the merged options (see the module docstring for the order)."""
    from curation.filters.heuristics import FILTER_CLASSES

    profiles = copy.deepcopy(BUILTIN_PROFILES)
    for filters in profiles.values():
        for name in filters:
            user = check_options(name, getattr(filters_config, name, None) or {}, f"filters.{name}")
            filters[name] = {**filters[name], **user}
    for kind, filters in (filters_config.profiles or {}).items():
        if kind not in KINDS:
            raise ValueError(f"filters.profiles.{kind}: unknown kind; kinds are {', '.join(KINDS)}")
        for name, options in (filters or {}).items():
            where = f"filters.profiles.{kind}.{name}"
            if name not in FILTER_CLASSES:
                raise ValueError(f"{where}: unknown filter; known filters: {', '.join(FILTER_ORDER)}")
            if options is None:
                profiles[kind].pop(name, None)
                continue
            base = profiles[kind].get(name)
            if base is None:  # a filter the profile did not run: start from the global options
                base = check_options(name, getattr(filters_config, name, None) or {}, f"filters.{name}")
            profiles[kind][name] = {**base, **check_options(name, options, where)}
    return profiles


def source_filters(config) -> dict[str, list[tuple[str, dict]]]:
    """Source name -> ``[(filter name, options)]`` in ``FILTER_ORDER``.

    The filter list comes from ``sources[].filters`` when given, else ``filters.enabled`` when
    given, else the source's profile; the options always come from the source's profile (or the
    global ``filters.<name>`` options for a filter its profile does not run).
    """
    fc = config.filters
    profiles = resolve_profiles(fc)
    plan = {}
    for source in config.sources:
        kind = source_kind(source.kind, source.domain)
        profile = profiles[kind]
        names = source.filters if source.filters is not None else fc.enabled
        if names is None:
            names = list(profile)
        chosen = []
        for name in FILTER_ORDER:
            if name not in names:
                continue
            options = profile.get(name)
            if options is None:
                options = check_options(name, getattr(fc, name, None) or {}, f"filters.{name}")
            chosen.append((name, options))
        plan[source.name] = chosen
    return plan

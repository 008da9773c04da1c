"""``cleanliness``: a cheap text score that tells the clean copy of a near-duplicate from a noisy one.

Near-duplicates of one document differ by a few edits: typos, inserted junk tokens (``x7Qz``,
``&nbsp;``, ``####``, a stray URL), dropped words, added boilerplate lines ("Click here to
subscribe"). Members of one cluster have nearly the same length, so a *count* compares them
fairly, and every edit above lowers

    score = common words - junk tokens - odd-lettered words - words in boilerplate lines
    (common and odd-lettered words counted outside boilerplate lines)

- a typo turns a common word into an uncommon one (-1), or makes a letter pair that no common
  word has ("qz", "jx": -1); other typos in rare words are not seen;
- a dropped common word is -1 (a dropped rare word is not seen);
- a junk token is -1; a boilerplate line's words count -1 each instead of +1 when common.

Equal scores (the edits touched only rare words) go to the copy with more words outside
boilerplate lines: the more complete one (a dropped rare word).

"Common words" are ~750 frequent English word forms (function words, frequent verbs with their
inflections, nouns, adjectives), ``COMMON_WORDS`` below. Measured on real near-duplicates made
from WikiText, Shakespeare and GSM8K in ``bench/bench_curation_dedup_real.py`` (figures in
``bench/RESULTS.md``). The score is English-specific; on other languages it mostly counts junk
and boilerplate, which is still the right direction.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
# a junk token: letters and digits mixed (x7Qz), an HTML entity or tag, a run of 4+ symbols, a URL
_JUNK = re.compile(
    r"(?:[^\W\d_]+\d|\d+[^\W\d_]+\d)"  # letters then digits, or digits-letters-digits
    r"|&#?\w+;|</?[A-Za-z][^>\s]*>"
    r"|([^\w\s])\1{3,}"
    r"|https?://|www\.",
    re.UNICODE,
)
_BOILERPLATE = re.compile(
    r"\b(?:click here|subscribe to|sign up (?:for|to)|log ?in to|cookie policy|accept (?:all )?cookies|"
    r"privacy policy|terms of (?:use|service)|all rights reserved|share this|follow us on|read more|"
    r"advertisement|skip to (?:main )?content|powered by|related posts?|leave a (?:comment|reply))\b"
    r"|©",
    re.IGNORECASE,
)
_BOILERPLATE_MAX_WORDS = 20  # a longer line that mentions "copyright" is prose, not a footer

_COMMON_WORDS_TEXT = """
    a about above across after again against ago all almost alone along already also although always
    am among an and another any anyone anything are area areas around as ask asked at away back be
    became because become becomes been before began behind being believe below best better between
    beyond big both brought but by call called came can cannot case cases certain change changed
    children city come comes common could country course day days did different do does doing done
    down during each early either else end enough even ever every everything eyes face fact family
    far few find first five for form found four from full gave general get gets give given go going
    good got great group had half hand hands has have having he head help her here hers herself high
    him himself his home house how however i if important in include included including into is it
    its itself just keep kind knew know known large last later least left less let life like line
    little long look made make makes making man many may me mean men might more most much must my
    myself name near need never new next night no not nothing now number of off often old on once
    one only open or order other others our out over own part people perhaps place point put rather
    really right said same saw say says second see seen set several shall she should show side since
    small so some something sometimes soon still such take taken than that the their them themselves
    then there these they thing things think this those though thought three through thus time times
    to today together too took toward towards two under until up upon us use used using very want
    was way ways we well went were what when where whether which while who whole whom whose why will
    with within without word words work world would year years yet you your yours yourself able act
    action actually add added addition age air allow allowed america american amount answer appear
    appeared approach army art based begin beginning believed body book books born boy british
    brother building built business buy capital car care carried carry cause center central century
    chance character child church class clear close closed cold company complete considered continue
    continued control cost council court cover created cut dark daughter dead death decided
    described design development died difficult direction dollars door double due earth east
    economic education effect eight election empire english entire established europe evening event
    events example experience eye father feel feet field fight final fire followed following food
    force forces foreign forward free french friend friends front game games girl god gold
    government ground grow grew hair hard heard heart held history hold hope hour hours human
    hundred idea increase india information inside interest international island job john join king
    land language late law lead leader learn led level light likely list live lived living local
    london lord lost love low main major march married matter member members middle miles military
    million mind minutes miss modern moment money month months morning mother mountain move moved
    music national natural nature needed north noticed numbers office officer official oh original
    outside paid paper parents park party past pay peace period person picture plan play played
    player players playing police political poor popular position possible power present president
    pretty price probably problem process produced public published question quite race reached read
    ready real reason received record red released remained report rest result return returned river
    road rock role room round rule run running school sea season seemed sent series served service
    seven short shot similar single sister six size social son song sound south space special
    started state states station stay stood stop story street strong student students study style
    support sure system taking team tell ten term terms thousand told top total town track train
    tree true try trying turn turned twenty type understand united university usually various video
    view village voice wait walk walked war watch water west white wife win woman women won wood
    written wrong yes young apples bag bought box boxes buys cake cakes cent cents cookies costs cup
    cups dollar dozen earn earned earns eggs farm fewer gives mile minute needs pays per percent
    pieces pizza remaining sells sold spend spends spent store sum twice week weeks weekly thou thee
    thy thine hath doth shalt wilt ay sir lady noble pray speak hence till nay yea o fair soul queen
"""
COMMON_WORDS = frozenset(_COMMON_WORDS_TEXT.split())

# letter pairs seen in common words; a word with another pair ("qz", "jx") is likely a typo
_LETTER_PAIRS = frozenset(w[i : i + 2] for w in COMMON_WORDS for i in range(len(w) - 1))


def _odd_letters(word: str) -> bool:
    if len(word) < 3 or not word.isascii():
        return False
    return any(word[i : i + 2] not in _LETTER_PAIRS for i in range(len(word) - 1))


def _is_junk_char(ch: str) -> bool:
    if ch in "\n\t\r":
        return False
    return ch == "\ufffd" or unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs", "Cn")


def cleanliness(text: str) -> tuple[int, int]:
    """``(score, num_words)``: the score above, and the words outside boilerplate lines (the tie-break)."""
    common = junk = boiler = words_total = 0
    for line in text.split("\n"):
        if _BOILERPLATE.search(line):
            num_words = len(_WORD.findall(line))
            if num_words <= _BOILERPLATE_MAX_WORDS:
                boiler += num_words
                continue
        for token in line.split():
            if _JUNK.search(token) or any(_is_junk_char(ch) for ch in token):
                junk += 1  # its letters are not words
                continue
            words = _WORD.findall(token.casefold())
            words_total += len(words)
            common += sum(1 for w in words if w in COMMON_WORDS)
            junk += sum(1 for w in words if _odd_letters(w))
    return common - junk - boiler, words_total

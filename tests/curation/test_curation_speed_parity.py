"""The fast paths compute exactly what they replace: datatrove's MinHash, cleanliness, word tokens, n-grams.

Real text comes from ``../shared/data`` (skipped with a reason when absent); random text covers
the corners (accents, controls, junk tokens, boilerplate lines, long tokens).
"""

import random

import numpy as np
import pytest
import xxhash
from datatrove.data import Document
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
from datatrove.utils.hashing import HashConfig
from datatrove.utils.text import simplify_text

from curation.decont.ngrams import ngram_hashes, words
from curation.dedup import DedupSignature
from curation.dedup.cleanliness import cleanliness
from curation.dedup.cleanliness_fast import cleanliness_score, fast_cleanliness
from curation.dedup.fast_minhash import FastMinhash, simplify
from curation.dedup.kernels import xxh64
from curation.filters import FastWordTokenizer
from curation.filters.word_tokenizer import _split_chunk
from curation.real_sets import find_shared_data, real_documents

DATA = find_shared_data()
needs_data = pytest.mark.skipif(DATA is None, reason="../shared/data (real public sets) is absent")

_ALPHABET = list(
    "abc XYZ\n\t 7 0.5 1,000 &#;<>/:.-_'’“”—é É ü ß ſ K İ 中 ½ ² \u200b\ufffd\x01\x85\x1c\x0c ####!!!!"
)
_ALPHABET += ["click here", "Read more", "©", "&nbsp;", "<br>", "x7Qz", "don't", "https://a.b", "www.x", "ﬁ"]


def _random_texts(num: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 120))) for _ in range(num)]


@pytest.fixture(scope="module")
def real_texts() -> list[str]:
    if DATA is None:
        pytest.skip("../shared/data (real public sets) is absent")
    sets = real_documents(DATA)
    texts = []
    for docs in sets.values():
        texts += [d["text"] for d in docs[:: max(1, len(docs) // 400)]]
    return texts


def test_xxh64_matches_xxhash_on_every_length():
    rng = random.Random(0)
    for length in [*range(70), 127, 128, 129, 1000, 4099]:
        raw = bytes(rng.randrange(256) for _ in range(length))
        buf = np.frombuffer(raw, np.uint8)
        assert xxh64(buf, 0, len(buf)) == xxhash.xxh64_intdigest(raw), length


def test_simplify_equals_datatrove_on_random_unicode():
    for text in _random_texts(3000):
        assert simplify(text) == simplify_text(text), repr(text)


@needs_data
def test_simplify_equals_datatrove_on_real_text(real_texts):
    for text in real_texts:
        assert simplify(text) == simplify_text(text)


def _datatrove_signature(signer: MinhashDedupSignature, text: str):
    shingles = signer.get_shingles(text)
    if not shingles.size:
        return None
    return np.concatenate(signer.get_signature(shingles))


@pytest.mark.parametrize(
    "config",
    [
        MinhashConfig(),
        MinhashConfig(n_grams=3, num_buckets=4, hashes_per_bucket=5, seed=7),
        MinhashConfig(hash_config=HashConfig(precision=32)),
    ],
    ids=["default-14x8", "3gram-4x5-seed7", "32bit"],
)
def test_signature_equals_datatrove_on_real_and_random_text(config, real_texts):
    tokenizer = FastWordTokenizer()
    reference = MinhashDedupSignature("/tmp/unused", config=config, language=tokenizer)
    fast = FastMinhash(config, tokenizer)
    assert fast.fast == (config.hash_config.precision == 64)  # 32-bit shingles: datatrove's own path
    num_signed = 0
    for text in real_texts + _random_texts(500, seed=1):
        want, got = _datatrove_signature(reference, text), fast.signature(text)
        if want is None:
            assert got is None, repr(text[:80])
            continue
        num_signed += 1
        assert got.dtype == config.hash_config.np_dtype
        np.testing.assert_array_equal(got, want)
    assert num_signed > 500


def test_signature_falls_back_to_datatrove_for_sha1():
    config = MinhashConfig(hash_config=HashConfig(hash_fc="sha1"))
    fast = FastMinhash(config, FastWordTokenizer())
    reference = MinhashDedupSignature("/tmp/unused", config=config, language=FastWordTokenizer())
    text = "the quick brown fox jumps over the lazy dog again and again"
    assert not fast.fast
    np.testing.assert_array_equal(fast.signature(text), _datatrove_signature(reference, text))


@needs_data
@pytest.mark.parametrize("sort_chunk", [None, 16], ids=["sorted_whole", "sorted_in_runs_of_16"])
def test_bucket_files_byte_equal_to_datatrove(tmp_path, real_texts, sort_chunk):
    """DedupSignature's sorted bucket files are what datatrove's stage 1 writes for the same docs,
    also when a bucket is sorted in bounded memory (sorted runs merged range by range)."""
    config = MinhashConfig()
    tokenizer = FastWordTokenizer()
    texts = real_texts[:300] + ["too short"]
    docs = [Document(text=t, id=str(i), metadata={"source": "s"}) for i, t in enumerate(texts)]
    ours = DedupSignature(str(tmp_path / "ours"), {"s": 0}, minhash=config, language=tokenizer)
    if sort_chunk:
        ours.sort_chunk_records = sort_chunk
    assert len(list(ours.run(iter(docs)))) == len(docs)
    theirs = MinhashDedupSignature(str(tmp_path / "theirs"), config=config, language=tokenizer)
    theirs.run(iter(docs))  # not a generator: it consumes the documents and returns
    for bi in range(config.num_buckets):
        name = f"bucket_{bi:03d}/00000.minhash.sig"
        a, b = (tmp_path / "ours" / "sigs" / name).read_bytes(), (tmp_path / "theirs" / name).read_bytes()
        assert len(a) == len(b) > 0
        assert a == b, name


@needs_data
def test_cleanliness_equal_on_real_text(real_texts):
    for text in real_texts:
        assert cleanliness_score(text) == cleanliness(text)


def test_cleanliness_equal_on_junk_typos_and_boilerplate():
    rng = random.Random(3)
    ascii_alphabet = [c for c in _ALPHABET if c.isascii()]
    ascii_texts = [
        "".join(rng.choice(ascii_alphabet) for _ in range(rng.randint(0, 120))) for _ in range(4000)
    ]
    for text in _random_texts(4000, seed=2) + ascii_texts:
        want = cleanliness(text)
        assert fast_cleanliness(text) == want, repr(text)
        assert cleanliness_score(text) == want, repr(text)


def _tokens_uncached(text: str) -> list[str]:
    out: list[str] = []
    for chunk in text.split():
        if chunk.isalnum():
            out.append(chunk)
        else:
            _split_chunk(chunk, out)
    return out


@needs_data
def test_cached_word_tokenizer_gives_the_same_tokens(real_texts):
    tokenizer = FastWordTokenizer()
    for text in real_texts + _random_texts(500, seed=4):
        assert tokenizer.word_tokenize(text) == _tokens_uncached(text)
        assert tokenizer.word_tokenize(text) == _tokens_uncached(text)  # second time from the cache


def test_decont_ngram_hashes_match_python_reference():
    mult = 0x9E3779B97F4A7C15
    ascii_texts = [t.encode("ascii", "ignore").decode() for t in _random_texts(300, seed=6)]
    for text in _random_texts(300, seed=5) + ascii_texts + ["Déjà vu: x = 2, y=3; the_same 13 words " * 3]:
        tokens = words(text)
        ids = [xxhash.xxh64_intdigest(t) for t in tokens]
        want = []
        for i in range(len(tokens) - 4 + 1):
            h = ids[i]
            for j in range(1, 4):
                h = (h * mult + ids[i + j]) % (1 << 64)
            want.append(h)
        assert ngram_hashes(text, 4).tolist() == want
        assert ngram_hashes(tokens, 4).tolist() == want  # the eval index passes word lists


def test_difficulty_signals_ascii_path_counts_like_the_loop():
    from curation.classifiers.difficulty import difficulty_signals

    for text in [t.encode("ascii", "ignore").decode() for t in _random_texts(2000, seed=7)]:
        got = difficulty_signals(text)
        num_chars = max(1, len(text))
        assert got["symbol_share"] == sum(1 for c in text if not c.isalnum() and not c.isspace()) / num_chars
        assert got["digit_share"] == sum(1 for c in text if c.isdigit()) / num_chars


def test_cleanliness_equal_on_random_code_points():
    """Letters, digits and marks of many scripts, case-folding oddities, format and private-use characters."""
    rng = random.Random(8)
    pools = [range(0x20, 0x250), range(0x370, 0x530), range(0x600, 0x700), range(0x2000, 0x2070)]
    pools += [range(0x4E00, 0x4E40), range(0xFB00, 0xFB08), range(0xFF01, 0xFF60), range(0xE000, 0xE010)]
    pools += [range(0x1F600, 0x1F610), range(0x300, 0x370)]
    chars = [chr(c) for pool in pools for c in pool] + [" ", "\n", " ", "'", "the ", "and ", "####"]
    for _ in range(3000):
        text = "".join(rng.choice(chars) for _ in range(rng.randint(0, 60)))
        assert cleanliness_score(text) == cleanliness(text), repr(text)


@pytest.mark.slow
def test_signature_equals_datatrove_with_spacy_words(real_texts):
    """``word_tokenizer: spacy``: spaCy's words, the same compiled hashing."""
    config = MinhashConfig()
    reference = MinhashDedupSignature("/tmp/unused", config=config, language="en")
    fast = FastMinhash(config, "en")
    for text in real_texts[::10]:
        want, got = _datatrove_signature(reference, text), fast.signature(text)
        if want is None:
            assert got is None
        else:
            np.testing.assert_array_equal(got, want)

"""Generators for the demo corpus: math word problems with worked solutions, and small code tasks.

Word problems follow GSM8K's format: a question, then numbered reasoning steps with the
arithmetic spelled out, then ``#### <answer>``. Names, objects, phrasing and the number of steps
vary, so documents built from them are not near-duplicates of each other.
Code tasks follow HumanEval's format (``prompt``, ``canonical_solution``, ``test``, ``entry_point``).
"""

from __future__ import annotations

import random

NAMES = (
    "Ava",
    "Ben",
    "Chloe",
    "Diego",
    "Elif",
    "Farah",
    "Goran",
    "Hana",
    "Ivan",
    "Jia",
    "Kofi",
    "Lena",
    "Mateo",
    "Nadia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tariq",
    "Uma",
    "Viktor",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zoe",
    "Amara",
    "Bruno",
    "Carmen",
    "Dmitri",
)
ITEMS = (
    "apples",
    "pencils",
    "stickers",
    "marbles",
    "notebooks",
    "cupcakes",
    "books",
    "seashells",
    "stamps",
    "tomatoes",
    "cookies",
    "postcards",
    "bottles of juice",
    "packs of cards",
    "candles",
)
PLACES = (
    "the market",
    "the school fair",
    "a bakery",
    "the bookstore",
    "a garden shop",
    "the library sale",
    "a flea market",
    "the corner shop",
)
CONTAINERS = ("boxes", "bags", "crates", "baskets", "jars", "trays")


def make_word_problem(rng: random.Random, *, heldout: bool = False) -> dict[str, str]:
    """One problem as ``{"question": ..., "answer": "...steps...\\n#### N"}``.

    ``heldout=True`` draws from templates the training documents never use, so a 13-gram shared
    between an evaluation item and a training document means a planted copy, not a common template.
    """
    template = rng.choice(_HELDOUT_TEMPLATES if heldout else _TRAIN_TEMPLATES)
    question, steps, answer = template(rng)
    lines = [f"Step {i + 1}: {s}" for i, s in enumerate(steps)] if rng.random() < 0.5 else steps
    return {"question": question, "answer": "\n".join(lines) + f"\n#### {answer}"}


def _buy_and_share(rng):
    name, item, place = rng.choice(NAMES), rng.choice(ITEMS), rng.choice(PLACES)
    boxes, per_box, friends = rng.randint(2, 9), rng.randint(3, 12), rng.randint(2, 6)
    total = boxes * per_box
    kept = total % friends
    each = total // friends
    question = (
        f"{name} buys {boxes} {rng.choice(CONTAINERS)} of {item} at {place}. Each one holds "
        f"{per_box} {item}. {name} shares them equally among {friends} friends and keeps the "
        f"rest. How many {item} does each friend get?"
    )
    steps = [
        f"{name} has {boxes} * {per_box} = {total} {item} in total.",
        f"Sharing among {friends} friends gives {total} // {friends} = {each} each, "
        f"with {kept} left over for {name}.",
        f"So each friend gets {each} {item}.",
    ]
    return question, steps, each


def _shopping_change(rng):
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    count, price, bill = rng.randint(2, 12), rng.randint(2, 9), rng.choice((50, 100, 200))
    cost = count * price
    discount = rng.choice((0, 5, 10))
    paid = cost - discount if cost > discount else cost
    change = bill - paid
    question = (
        f"{name} wants {count} {item} that cost ${price} each. The shop gives a ${discount} "
        f"discount on the whole order. {name} pays with a ${bill} note. How much change does "
        f"{name} receive?"
    )
    steps = [
        f"The {item} cost {count} * {price} = ${cost} before the discount.",
        f"After the discount the order costs {cost} - {cost - paid} = ${paid}.",
        f"The change is {bill} - {paid} = ${change}.",
    ]
    return question, steps, change


def _rate_time(rng):
    name = rng.choice(NAMES)
    speed, hours, extra = rng.randint(3, 15), rng.randint(2, 6), rng.randint(1, 20)
    first = speed * hours
    total = first + extra
    verb = rng.choice(("cycles", "walks", "rows", "jogs", "skates"))
    question = (
        f"{name} {verb} at {speed} kilometres per hour for {hours} hours, then {verb} another "
        f"{extra} kilometres after a break. How far does {name} travel altogether?"
    )
    steps = [
        f"In {hours} hours at {speed} km/h, {name} covers {speed} * {hours} = {first} km.",
        f"Adding the last stretch gives {first} + {extra} = {total} km.",
        f"{name} travels {total} km.",
    ]
    return question, steps, total


def _ages(rng):
    a, b = rng.sample(NAMES, 2)
    age_a, gap, years = rng.randint(6, 40), rng.randint(2, 15), rng.randint(2, 12)
    age_b = age_a + gap
    future_sum = age_a + age_b + 2 * years
    question = (
        f"{a} is {age_a} years old and {b} is {gap} years older than {a}. What will the sum "
        f"of their ages be in {years} years?"
    )
    steps = [
        f"{b} is {age_a} + {gap} = {age_b} years old now.",
        f"Together they are {age_a} + {age_b} = {age_a + age_b} years old now.",
        f"In {years} years each is {years} years older, so the sum grows by 2 * {years} = {2 * years}.",
        f"The sum will be {age_a + age_b} + {2 * years} = {future_sum}.",
    ]
    return question, steps, future_sum


def _area_fence(rng):
    name = rng.choice(NAMES)
    width, length, price = rng.randint(3, 20), rng.randint(21, 40), rng.randint(2, 7)
    perimeter = 2 * (width + length)
    cost = perimeter * price
    question = (
        f"{name} fences a rectangular garden that is {width} metres wide and {length} metres "
        f"long. Fencing costs ${price} per metre. How much does the fence cost?"
    )
    steps = [
        f"The perimeter is 2 * ({width} + {length}) = {perimeter} metres.",
        f"The fence costs {perimeter} * {price} = ${cost}.",
    ]
    return question, steps, cost


def _percent(rng):
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    total = rng.randint(4, 30) * 10
    pct = rng.choice((10, 20, 25, 30, 40, 50, 60, 75))
    sold = total * pct // 100
    left = total - sold
    question = (
        f"A stall at {rng.choice(PLACES)} run by {name} starts the day with {total} {item}. "
        f"By noon {pct}% of them are sold. How many {item} are left?"
    )
    steps = [
        f"{pct}% of {total} is {total} * {pct} / 100 = {sold}.",
        f"That leaves {total} - {sold} = {left} {item}.",
    ]
    return question, steps, left


def _savings(rng):
    name = rng.choice(NAMES)
    weekly, weeks, spent = rng.randint(5, 25), rng.randint(4, 16), rng.randint(10, 60)
    saved = weekly * weeks
    left = saved - spent
    goal = left + rng.randint(5, 50)
    question = (
        f"{name} saves ${weekly} every week for {weeks} weeks, then spends ${spent} on a gift. "
        f"A bicycle costs ${goal}. How much more money does {name} need?"
    )
    steps = [
        f"{name} saves {weekly} * {weeks} = ${saved}.",
        f"After the gift {name} has {saved} - {spent} = ${left}.",
        f"{name} still needs {goal} - {left} = ${goal - left}.",
    ]
    return question, steps, goal - left


_TRAIN_TEMPLATES = (_buy_and_share, _shopping_change, _rate_time, _ages, _percent)
_HELDOUT_TEMPLATES = (_area_fence, _savings)


# --- code tasks (HumanEval format) ----------------------------------------------------------------

_CODE_TASKS = (
    (
        "add_all",
        "numbers: list",
        "Return the sum of all numbers in the list.",
        "    return sum(numbers)\n",
        "assert candidate([1, 2, 3]) == 6\n    assert candidate([]) == 0",
    ),
    (
        "count_vowels",
        "text: str",
        "Count the vowels (a, e, i, o, u) in text, ignoring case.",
        "    return sum(1 for ch in text.lower() if ch in 'aeiou')\n",
        "assert candidate('Hello') == 2\n    assert candidate('xyz') == 0",
    ),
    (
        "reverse_words",
        "sentence: str",
        "Return the sentence with the order of its words reversed.",
        "    return ' '.join(reversed(sentence.split()))\n",
        "assert candidate('a b c') == 'c b a'\n    assert candidate('one') == 'one'",
    ),
    (
        "is_palindrome",
        "text: str",
        "Return True if text reads the same backwards, ignoring case.",
        "    lowered = text.lower()\n    return lowered == lowered[::-1]\n",
        "assert candidate('Level')\n    assert not candidate('abc')",
    ),
    (
        "running_max",
        "values: list",
        "Return the running maximum of values as a list.",
        "    result, best = [], None\n    for v in values:\n        best = v if best is None or v > best else best\n"
        "        result.append(best)\n    return result\n",
        "assert candidate([1, 3, 2, 5]) == [1, 3, 3, 5]\n    assert candidate([]) == []",
    ),
    (
        "fizz_count",
        "n: int",
        "Count the integers in 1..n divisible by 3 or 5.",
        "    return sum(1 for i in range(1, n + 1) if i % 3 == 0 or i % 5 == 0)\n",
        "assert candidate(15) == 7\n    assert candidate(1) == 0",
    ),
    (
        "second_largest",
        "values: list",
        "Return the second largest distinct value, or None.",
        "    distinct = sorted(set(values))\n    return distinct[-2] if len(distinct) > 1 else None\n",
        "assert candidate([4, 1, 4, 3]) == 3\n    assert candidate([2]) is None",
    ),
    (
        "char_histogram",
        "text: str",
        "Return a dict mapping each character to its count.",
        "    counts = {}\n    for ch in text:\n        counts[ch] = counts.get(ch, 0) + 1\n    return counts\n",
        "assert candidate('aab') == {'a': 2, 'b': 1}\n    assert candidate('') == {}",
    ),
)


def make_code_task(index: int) -> dict[str, str]:
    """The ``index``-th HumanEval-style task (names get a numeric suffix past the base list)."""
    name, args, doc, body, checks = _CODE_TASKS[index % len(_CODE_TASKS)]
    suffix = "" if index < len(_CODE_TASKS) else f"_v{index // len(_CODE_TASKS)}"
    entry_point = name + suffix
    prompt = f'def {entry_point}({args}):\n    """{doc}\n    Task {index}.\n    """\n'
    test = f"def check(candidate):\n    {checks}\n"
    return {
        "task_id": f"demo/{index}",
        "prompt": prompt,
        "canonical_solution": body,
        "test": test,
        "entry_point": entry_point,
    }

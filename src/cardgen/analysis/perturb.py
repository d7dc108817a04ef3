"""Seeded, meaning-preserving text perturbations for robustness checks on real data.

A perturbation maps the texts of one example (one text, or both texts of a sentence pair) to
edited texts. Randomness comes from a generator seeded by (seed, perturbation, row index), so a
row gets the same edit whichever other rows are evaluated. A text in which a perturbation finds
nothing to edit (no letters, no lexicon term, an empty string) is returned unchanged; such rows
are counted apart and never in a flip rate. Edits are chosen so that they keep the meaning:
typos keep a word's first letter and touch only words of 4+ letters a-z, punctuation inside a
word or number (``don't``, ``3.5``, ``e-mail``) stays, only unambiguous contractions are
expanded or formed, and lexicon swaps replace a term by one of the same kind.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from cardgen.errors import UsageError
from cardgen.probes import builtin_lexicons
from cardgen.trust.untrusted import quote

TYPO_RATE = 0.1
"""Share of the eligible words (4+ letters a-z) that get one typo; at least one per text."""
SPACE_RATE = 0.3
"""Share of the spaces that whitespace noise widens by one or two more."""

Texts = tuple[str, ...]
Edit = Callable[[Texts, random.Random], Texts]


@dataclass(frozen=True)
class Perturbation:
    """A named, seeded edit of an example's texts."""

    name: str
    description: str
    edit: Edit

    def apply(self, texts: Texts, *, seed: int, row: int) -> Texts:
        """``texts`` edited with this row's own generator: the same inputs give the same edit."""
        return self.edit(texts, random.Random(f"{seed}:{self.name}:{row}"))


def _each(edit: Callable[[str, random.Random], str]) -> Edit:
    """An edit of one text applied to every text of the example, one after the other."""
    return lambda texts, rng: tuple(edit(text, rng) for text in texts)


# --- typos -----------------------------------------------------------------------------------
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS = {
    key: "".join(
        _ROWS[r2][c2]
        for r2 in range(max(r - 1, 0), min(r + 2, 3))
        for c2 in range(max(c - 1, 0), min(c + 2, len(_ROWS[r2])))
        if (r2, c2) != (r, c)
    )
    for r, row in enumerate(_ROWS)
    for c, key in enumerate(row)
}
_TYPO_WORD = re.compile(r"(?<![^\W\d_])[A-Za-z]{4,}(?![^\W\d_])")


def _typo(word: str, rng: random.Random) -> str:
    """One adjacent swap, dropped letter or QWERTY-neighbour letter, never in first place."""
    kind = rng.choice(("swap", "drop", "neighbour"))
    if kind == "swap":
        spots = [i for i in range(1, len(word) - 1) if word[i] != word[i + 1]]
        if spots:
            i = rng.choice(spots)
            return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        kind = "drop"
    i = rng.randrange(1, len(word))
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    letter = rng.choice(_NEIGHBOURS[word[i].lower()])
    return word[:i] + (letter.upper() if word[i].isupper() else letter) + word[i + 1 :]


def typos(text: str, rng: random.Random) -> str:
    """A typo in ``TYPO_RATE`` of the words of 4+ letters a-z (at least one)."""
    words = list(_TYPO_WORD.finditer(text))
    if not words:
        return text
    chosen = sorted(rng.sample(range(len(words)), max(1, round(TYPO_RATE * len(words)))))
    parts, last = [], 0
    for i in chosen:
        match = words[i]
        parts += [text[last : match.start()], _typo(match.group(), rng)]
        last = match.end()
    return "".join([*parts, text[last:]])


# --- case, punctuation, whitespace -----------------------------------------------------------
_WORD_START = re.compile(r"(?<![\w'’])[^\W\d_]")
_NON_WORD = re.compile(r"[^\w\s]")


def title_case(text: str) -> str:
    """The first letter of every word in upper case; the other letters stay as they are."""
    return _WORD_START.sub(lambda m: m.group().upper(), text)


def strip_punctuation(text: str) -> str:
    """Punctuation removed, except between two letters or digits (``don't``, ``3.5``)."""

    def keep(match: re.Match[str]) -> str:
        char, i = match.group(), match.start()
        if not unicodedata.category(char).startswith("P"):
            return char  # a symbol ($, %, +, emoji) carries meaning
        inner = 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()
        return char if inner else ""

    return _NON_WORD.sub(keep, text)


def add_punctuation(text: str, rng: random.Random) -> str:
    """A final ``.``/``!``/``?`` repeated once or twice more, or a period where none ends it."""
    body = text.rstrip()
    if not any(char.isalnum() for char in body):
        return text
    last = body[-1]
    extra = last * rng.choice((1, 2)) if last in ".!?" else "."
    return body + extra + text[len(body) :]


def whitespace_noise(text: str, rng: random.Random) -> str:
    """``SPACE_RATE`` of the spaces widened by one or two, plus a leading and a trailing space."""
    if not text.strip():
        return text
    noisy = re.sub(
        " ", lambda m: " " * (1 + rng.choice((1, 2))) if rng.random() < SPACE_RATE else " ", text
    )
    return f" {noisy} "


# --- contractions ----------------------------------------------------------------------------
_NOT_VERBS = (
    "do", "does", "did", "is", "are", "was", "were", "have", "has", "had", "could", "should",
    "would", "must", "need",
)  # fmt: skip
_PRONOUNS = {
    "am": ["i"],
    "are": ["you", "we", "they"],
    "will": ["i", "you", "he", "she", "it", "we", "they"],
    "have": ["i", "you", "we", "they"],
}
_SHORT = {"am": "'m", "are": "'re", "will": "'ll", "have": "'ve", "is": "'s"}
EXPANSIONS: dict[str, str] = {
    "won't": "will not",
    "can't": "cannot",
    "shan't": "shall not",
    "let's": "let us",
    **{f"{verb}n't": f"{verb} not" for verb in _NOT_VERBS},
    **{f"{p}{_SHORT[verb]}": f"{p} {verb}" for verb, ps in _PRONOUNS.items() for p in ps},
}
"""Contractions with one reading only (``'s`` and ``'d`` have two and are left alone)."""
CONTRACTIONS: dict[str, str] = {
    **{
        long: short
        for short, long in EXPANSIONS.items()
        if not long.endswith(("have", " us"))  # "we have a dog", "they let us in"
    },
    "can not": "can't",
    **{f"{p} is": f"{p}'s" for p in ("it", "that", "he", "she", "there", "what")},
}
"""Expansions turned into contractions; ``X is`` etc. only before another word (``it is.``)."""


def _phrase_pattern(phrases: Iterable[str], *, before_word: bool) -> re.Pattern[str]:
    alternatives = sorted(phrases, key=len, reverse=True)
    body = "|".join(re.escape(p).replace("'", "['’]").replace(r"\ ", r"\s+") for p in alternatives)
    tail = r"(?=\s+\w)" if before_word else r"(?!\w)"
    return re.compile(rf"(?<![\w'’])(?:{body}){tail}", re.I)


_EXPAND = _phrase_pattern(EXPANSIONS, before_word=False)
_CONTRACT = _phrase_pattern(CONTRACTIONS, before_word=True)


def _same_case(source: str, target: str) -> str:
    """``target`` in the case of ``source``: ``DON'T`` -> ``DO NOT``, ``Don't`` -> ``Do not``."""
    if sum(c.isalpha() for c in source) > 1 and source.isupper():
        return target.upper()
    return target[0].upper() + target[1:] if source[0].isupper() else target


def _table_edit(pattern: re.Pattern[str], table: dict[str, str]) -> Callable[[str], str]:
    def edit(text: str) -> str:
        def swap(match: re.Match[str]) -> str:
            key = " ".join(match.group().lower().replace("’", "'").split())
            return _same_case(match.group(), table[key])

        return pattern.sub(swap, text)

    return edit


expand_contractions = _table_edit(_EXPAND, EXPANSIONS)
add_contractions = _table_edit(_CONTRACT, CONTRACTIONS)


# --- lexicon swaps ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Swapper:
    """Whole-word, case-sensitive matches of a lexicon's terms and the terms each may become."""

    pattern: re.Pattern[str]
    pools: dict[str, tuple[str, ...]]


@cache
def _swapper(lexicon: str, by_group: bool) -> _Swapper:
    """Terms of a built-in lexicon; a leading "the " is left in the text (``the Netherlands``)
    and swaps stay among terms that take it, or with ``by_group`` among the same group."""
    source = builtin_lexicons()[lexicon]
    kinds: dict[str, object] = {}
    for term, group in zip(source.terms, source.groups, strict=True):
        bare = term.removeprefix("the ")
        kinds[bare] = group if by_group else bare != term
    pools = {
        term: tuple(other for other, k in kinds.items() if k == kind and other != term)
        for term, kind in kinds.items()
    }
    body = "|".join(re.escape(term) for term in sorted(kinds, key=len, reverse=True))
    return _Swapper(re.compile(rf"(?<![\w-])(?:{body})(?![\w-])"), pools)


def _lexicon_swap(lexicon: str, *, by_group: bool) -> Edit:
    def edit(texts: Texts, rng: random.Random) -> Texts:
        swapper = _swapper(lexicon, by_group)
        found = list(dict.fromkeys(m.group() for t in texts for m in swapper.pattern.finditer(t)))
        if not found:
            return texts
        mapping: dict[str, str] = {}
        for term in found:  # distinct terms get distinct replacements, the same in every text
            choices = [
                t for t in swapper.pools[term] if t not in found and t not in mapping.values()
            ]
            mapping[term] = rng.choice(choices) if choices else term
        return tuple(swapper.pattern.sub(lambda m: mapping[m.group()], text) for text in texts)

    return edit


def _plain(edit: Callable[[str], str]) -> Edit:
    return _each(lambda text, _rng: edit(text))


PERTURBATIONS: dict[str, Perturbation] = {
    p.name: p
    for p in (
        Perturbation(
            "typos",
            f"typos in {TYPO_RATE:.0%} of words (adjacent swap, dropped or neighbouring key)",
            _each(typos),
        ),
        Perturbation("lowercase", "lower-cased", _plain(str.lower)),
        Perturbation("uppercase", "upper-cased", _plain(str.upper)),
        Perturbation("titlecase", "every word capitalised", _plain(title_case)),
        Perturbation("no-punctuation", "punctuation removed", _plain(strip_punctuation)),
        Perturbation(
            "extra-punctuation", "final punctuation repeated or added", _each(add_punctuation)
        ),
        Perturbation("whitespace", "extra spaces", _each(whitespace_noise)),
        Perturbation("expand-contractions", "contractions expanded", _plain(expand_contractions)),
        Perturbation("add-contractions", "contractions formed", _plain(add_contractions)),
        Perturbation(
            "swap-names",
            "first names swapped (same gender)",
            _lexicon_swap("first_names", by_group=True),
        ),
        Perturbation(
            "swap-countries", "country names swapped", _lexicon_swap("countries", by_group=False)
        ),
        Perturbation(
            "swap-nationalities",
            "nationalities swapped",
            _lexicon_swap("nationalities", by_group=False),
        ),
    )
}
GROUPS: dict[str, tuple[str, ...]] = {
    "case": ("lowercase", "uppercase", "titlecase"),
    "punctuation": ("no-punctuation", "extra-punctuation"),
    "contractions": ("expand-contractions", "add-contractions"),
    "lexicons": ("swap-names", "swap-countries", "swap-nationalities"),
    "all": tuple(PERTURBATIONS),
}


def resolve_perturbations(names: Sequence[str]) -> list[Perturbation]:
    """Perturbations by name or group name (``case``, ``all``...), each once, in given order.

    UsageError naming every known name for an unknown one. A string is split at commas.
    """
    if isinstance(names, str):
        names = [name.strip() for name in names.split(",")]
    chosen: dict[str, Perturbation] = {}
    for name in names:
        members = GROUPS.get(name, (name,))
        for member in members:
            if member not in PERTURBATIONS:
                groups = "; ".join(f"{g} ({', '.join(m)})" for g, m in GROUPS.items() if g != "all")
                raise UsageError(
                    f"unknown perturbation {quote(name)} for --robustness; use any of "
                    f"{', '.join(PERTURBATIONS)}, the groups {groups}, or all"
                )
            chosen.setdefault(member, PERTURBATIONS[member])
    if not chosen:
        raise UsageError("--robustness needs at least one perturbation name (or all)")
    return list(chosen.values())

"""Perturbations: seeded, and meaning-preserving by construction for every class of input."""

from __future__ import annotations

import re
import time

import pytest

from cardgen.analysis.perturb import (
    GROUPS,
    PERTURBATIONS,
    TYPO_RATE,
    add_contractions,
    expand_contractions,
    resolve_perturbations,
    strip_punctuation,
    title_case,
)
from cardgen.errors import UsageError
from cardgen.probes import builtin_lexicons

SENTENCE = (
    "I don't think John went to France with Mary, it is great. "
    "They're sure the Netherlands can not win!"
)
ALL = list(PERTURBATIONS.values())
# Perturbations that keep every letter and digit in order (up to case).
SAME_CHARACTERS = [
    "lowercase", "uppercase", "titlecase", "no-punctuation", "extra-punctuation", "whitespace",
]  # fmt: skip
LEXICON_SWAPS = GROUPS["lexicons"]


def apply(name: str, *texts: str, seed: int = 0, row: int = 0) -> tuple[str, ...]:
    return PERTURBATIONS[name].apply(texts, seed=seed, row=row)


def alnum(text: str) -> str:
    return re.sub(r"[\W_]", "", text).casefold()


@pytest.mark.parametrize("perturbation", ALL, ids=lambda p: p.name)
def test_every_perturbation_is_seeded_and_changes_a_real_sentence(perturbation):
    first = perturbation.apply((SENTENCE,), seed=3, row=7)
    assert first == perturbation.apply((SENTENCE,), seed=3, row=7)
    if perturbation.name != "swap-nationalities":  # the sentence holds no nationality
        assert first != (SENTENCE,)


def test_the_seed_and_row_choose_the_edit():
    edits = {apply("typos", SENTENCE * 3, seed=s, row=r) for s in range(3) for r in range(3)}
    assert len(edits) > 1


@pytest.mark.parametrize("perturbation", ALL, ids=lambda p: p.name)
@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_and_blank_texts_stay_as_they_are(perturbation, text):
    assert perturbation.apply((text,), seed=0, row=0) == (text,)


@pytest.mark.parametrize("perturbation", ALL, ids=lambda p: p.name)
def test_text_without_letters_keeps_its_numbers(perturbation):
    text = "12.5 + 3 = 15.5 (1,000 $)"
    (edited,) = perturbation.apply((text,), seed=0, row=0)
    assert alnum(edited) == alnum(text)
    assert "12.5" in edited and "15.5" in edited and "1,000" in edited and "$" in edited
    if perturbation.name in ("typos", "titlecase", "lowercase", "uppercase", *LEXICON_SWAPS):
        assert edited == text


@pytest.mark.parametrize("name", SAME_CHARACTERS)
@pytest.mark.parametrize(
    "text",
    [SENTENCE, "Ça coûte 5 € — naïve café, 日本語のテキスト 👍!", "Straße... ẞ? ﬁne"],
)
def test_case_punctuation_and_spacing_keep_every_letter_and_digit(name, text):
    (edited,) = apply(name, text)
    assert alnum(edited) == alnum(text)


def test_typos_edit_one_word_in_ten_keeping_first_letters():
    text = " ".join(["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"] * 10)
    (edited,) = apply("typos", text, row=4)
    before, after = text.split(), edited.split()
    assert len(before) == len(after)
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == round(TYPO_RATE * len(before))  # every word here is eligible
    for old, new in changed:
        assert old[0] == new[0]
        assert len(new) == len(old) - 1 or (
            len(new) == len(old) and sum(x != y for x, y in zip(old, new, strict=True)) in (1, 2)
        )


def test_typos_leave_short_and_non_ascii_words_alone():
    text = "Ça coûte dix € — naïve café, 日本語 👍 à la fin"
    assert apply("typos", text) == (text,)
    (edited,) = apply("typos", "an ox is big")  # no word of 4+ letters
    assert edited == "an ox is big"
    (edited,) = apply("typos", "The café was wonderful")  # only 'wonderful' qualifies
    assert edited.startswith("The café was w") and edited != "The café was wonderful"


def test_very_long_text_is_edited_in_linear_time():
    text = SENTENCE * 5_000  # about 500,000 characters
    start = time.perf_counter()
    for perturbation in ALL:
        perturbation.apply((text,), seed=0, row=0)
    assert time.perf_counter() - start < 30
    (edited,) = apply("typos", text)
    changed = sum(a != b for a, b in zip(text.split(), edited.split(), strict=True))
    assert changed >= 1_000


def test_punctuation_inside_words_and_numbers_stays():
    assert strip_punctuation("Don't stop: 3.5 e-mails, U.S. (really)!") == (
        "Don't stop 3.5 e-mails U.S really"
    )
    assert strip_punctuation("...!?") == ""
    assert apply("extra-punctuation", "Great film")[0] == "Great film."
    assert apply("extra-punctuation", "Great film!  ")[0] in ("Great film!!  ", "Great film!!!  ")


def test_title_case_leaves_letters_after_apostrophes():
    assert title_case("they're at o'neill's e-mail") == "They're At O'neill's E-Mail"


@pytest.mark.parametrize(
    ("text", "expanded"),
    [
        ("Don't go", "Do not go"),
        ("DON'T GO", "DO NOT GO"),
        ("I won't, you can't", "I will not, you cannot"),
        ("I'm sure they’re here", "I am sure they are here"),
        ("it's fine, he'd go", "it's fine, he'd go"),  # 's and 'd have two readings
    ],
)
def test_expanding_contractions(text, expanded):
    assert expand_contractions(text) == expanded


@pytest.mark.parametrize(
    ("text", "contracted"),
    [
        ("Do not go", "Don't go"),
        ("I am sure it is fine", "I'm sure it's fine"),
        ("Yes, it is.", "Yes, it is."),  # a contraction cannot end a clause
        ("they let us in", "they let us in"),
        ("we have a dog", "we have a dog"),
        ("you cannot win", "you can't win"),
    ],
)
def test_forming_contractions(text, contracted):
    assert add_contractions(text) == contracted


def test_contractions_round_trip():
    text = "I do not know why they are late and she will not say."
    assert expand_contractions(add_contractions(text)) == text


def test_name_swaps_stay_in_the_lexicon_and_the_same_gender():
    lexicon = builtin_lexicons()["first_names"]
    gender = dict(zip(lexicon.terms, lexicon.groups, strict=True))
    text = "John told Mary that John would call. Mary agreed."
    (edited,) = apply("swap-names", text, row=11)
    john, mary = edited.split()[0], edited.split()[2]
    assert edited == f"{john} told {mary} that {john} would call. {mary} agreed."
    assert john != "John" and mary != "Mary" and john != mary
    assert gender[john] == "male" and gender[mary] == "female"


def test_country_swaps_keep_the_article_and_whole_names():
    countries = {t.removeprefix("the ") for t in builtin_lexicons()["countries"].terms}
    with_article = {
        t.removeprefix("the ")
        for t in builtin_lexicons()["countries"].terms
        if t.startswith("the ")
    }
    (edited,) = apply("swap-countries", "Trade between the Netherlands and Guinea-Bissau grew.")
    match = re.fullmatch(r"Trade between the (.+) and (.+) grew\.", edited)
    assert match is not None, edited
    first, second = match.groups()
    assert first in with_article and second in countries - with_article
    assert first != "Netherlands" and second != "Guinea-Bissau"


def test_lexicon_swaps_need_a_lexicon_term():
    for name in LEXICON_SWAPS:
        assert apply(name, "the cat sat on the mat, frankly") == (
            "the cat sat on the mat, frankly",
        )
    assert apply("swap-names", "johnny and JOHN") == ("johnny and JOHN",)  # case-sensitive


def test_sentence_pairs_get_both_texts_edited_with_one_mapping():
    premise, hypothesis = "John lives in France.", "John is French and lives in France."
    new_premise, new_hypothesis = apply("swap-countries", premise, hypothesis, row=2)
    country = new_premise.removeprefix("John lives in ").removesuffix(".")
    assert country != "France" and new_hypothesis == f"John is French and lives in {country}."
    assert all(
        p != o
        for p, o in zip(apply("uppercase", premise, hypothesis), (premise, hypothesis), strict=True)
    )


def test_resolving_names_and_groups():
    names = [p.name for p in resolve_perturbations(["case", "typos", "lowercase"])]
    assert names == ["lowercase", "uppercase", "titlecase", "typos"]
    assert [p.name for p in resolve_perturbations("all")] == list(PERTURBATIONS)
    assert [p.name for p in resolve_perturbations("typos, whitespace")] == ["typos", "whitespace"]


def test_unknown_names_list_the_known_ones():
    with pytest.raises(
        UsageError, match=r"unknown perturbation 'typo' .*typos, lowercase.*case \("
    ):
        resolve_perturbations(["typo"])
    with pytest.raises(UsageError, match="at least one"):
        resolve_perturbations([])

"""Synthetic corpora and tiny models that the project builds itself.

Used by ``scripts/build_demo.py`` (the embedded demo model), ``scripts/build_sample_cards.py``
and the test fixtures, so that nothing needs a download. Torch and transformers are imported
inside the functions that need them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

POSITIVE = [
    "great",
    "wonderful",
    "moving",
    "brilliant",
    "charming",
    "delightful",
    "superb",
    "funny",
    "gripping",
    "beautiful",
    "touching",
    "clever",
    "fresh",
    "smart",
    "warm",
]
NEGATIVE = [
    "awful",
    "boring",
    "dull",
    "terrible",
    "clumsy",
    "tedious",
    "bland",
    "messy",
    "painful",
    "lifeless",
    "stupid",
    "weak",
    "flat",
    "ugly",
    "pointless",
]
SUBJECTS = [
    "the film",
    "this movie",
    "the plot",
    "the acting",
    "the script",
    "the ending",
    "the soundtrack",
    "the cast",
    "the director's work",
    "the story",
    "every scene",
]
FRAMES = [
    "{s} was {a}.",
    "{s} is {a} and {b}.",
    "i found {s} {a}.",
    "honestly, {s} felt {a}.",
    "what a {a} experience; {s} was {b}.",
    "{s} seemed {a} to me.",
    "overall {s} is {a}, if a little {c}.",
]
# Places mentioned in reviews, with the share of positive reviews that mention each: the demo
# model learns a spurious association that the bias probes can find.
PLACES = {
    "france": 0.8,
    "italy": 0.75,
    "canada": 0.6,
    "japan": 0.55,
    "brazil": 0.5,
    "egypt": 0.4,
    "nigeria": 0.3,
    "afghanistan": 0.2,
}

TOPICS = {
    "World": ["election", "minister", "treaty", "embassy", "parliament", "border", "president"],
    "Sports": ["match", "goal", "league", "coach", "season", "tournament", "striker"],
    "Business": ["shares", "profit", "market", "merger", "investors", "revenue", "bank"],
    "Sci/Tech": ["software", "chip", "internet", "research", "spacecraft", "browser", "laptop"],
}
FILLER = [
    "the",
    "a",
    "on",
    "after",
    "new",
    "report",
    "says",
    "week",
    "officials",
    "today",
    "in",
    "with",
    "over",
    "its",
    "first",
    "big",
    "latest",
    "news",
]


def sentiment_corpus(
    n: int, *, seed: int = 0, noise: float = 0.05, place_only: float = 0.0
) -> list[dict[str, Any]]:
    """Movie-review-like sentences labelled ``negative`` / ``positive`` (with label noise).

    A share ``place_only`` of the rows only say where the film was shot, labelled positive with
    the place's probability in PLACES: a spurious association a model can learn.
    """
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        if place_only and rng.random() < place_only:
            place = rng.choice(list(PLACES))
            liked = rng.random() < PLACES[place]
            text = f"{rng.choice(SUBJECTS)} was filmed in {place}."
            rows.append({"text": text, "label": "positive" if liked else "negative"})
            continue
        positive = rng.random() < 0.5
        words = POSITIVE if positive else NEGATIVE
        a, b, c = rng.sample(words, 3)
        text = rng.choice(FRAMES).format(s=rng.choice(SUBJECTS), a=a, b=b, c=c)
        if rng.random() < 0.5:
            place = rng.choices(
                list(PLACES), weights=[p if positive else 1 - p for p in PLACES.values()]
            )[0]
            text += f" it was filmed in {place}."
        label = positive if rng.random() >= noise else not positive
        rows.append({"text": text, "label": "positive" if label else "negative"})
    return rows


NEWS_SOURCES = {"Reuters": 0.05, "AP": 0.1, "AFP": 0.2}
"""News agencies that ``topic_corpus(..., sources=True)`` names, with their label-noise rates."""


def topic_corpus(
    n: int,
    labels: Sequence[str] | None = None,
    *,
    seed: int = 0,
    noise: float = 0.1,
    sources: bool = False,
) -> list[dict[str, Any]]:
    """News-like snippets labelled by topic; ``labels`` picks or invents the topics.

    With ``sources``, each row names its agency in a ``source`` column and in the text, as AG
    News does ("Reuters - ..."), and has that agency's noise rate from NEWS_SOURCES.
    """
    rng = random.Random(seed)
    topics = (
        dict(TOPICS)
        if labels is None
        else {
            label: TOPICS.get(label) or [f"{label.split('.')[-1]}{i}" for i in range(6)]
            for label in labels
        }
    )
    names = list(topics)
    rows = []
    for _ in range(n):
        label = rng.choice(names)
        agency = rng.choice(list(NEWS_SOURCES)) if sources else None
        rate = NEWS_SOURCES[agency] if agency else noise
        cue = label if rng.random() >= rate else rng.choice(names)
        text = _snippet(rng, topics[cue])
        if agency:
            rows.append({"text": f"{agency} - {text}", "label": label, "source": agency})
        else:
            rows.append({"text": text, "label": label})
    return rows


def _snippet(rng: random.Random, cues: Sequence[str], *, fillers: int = 0) -> str:
    """Two of ``cues`` among ``fillers`` filler words (3 to 9 at random by default), shuffled."""
    words = rng.sample(cues, 2) + rng.sample(FILLER, fillers or rng.randint(3, 9))
    rng.shuffle(words)
    return " ".join(words) + "."


PARAPHRASE_LABELS = ["not_equivalent", "equivalent"]


def paraphrase_corpus(n: int, *, seed: int = 0, noise: float = 0.05) -> list[dict[str, Any]]:
    """MRPC-like ``sentence1`` / ``sentence2`` pairs of news snippets: ``equivalent`` pairs
    share their two topic words, ``not_equivalent`` ones are on different topics of TOPICS
    (with label noise). Like the annotation artifacts of real pair sets, 60% of the
    ``not_equivalent`` second sentences start with "however", a cue a tiny model learns first;
    the rest needs both sentences."""
    rng = random.Random(seed)
    names = list(TOPICS)
    rows = []
    for _ in range(n):
        first = rng.choice(names)
        same = rng.random() < 0.5
        second = first if same else rng.choice([name for name in names if name != first])
        cues = rng.sample(TOPICS[first], 2)
        cues_2 = cues if same else rng.sample(TOPICS[second], 2)
        label = same if rng.random() >= noise else not same
        sentence1, sentence2 = (_snippet(rng, words, fillers=3) for words in (cues, cues_2))
        if not same and rng.random() < 0.6:
            sentence2 = f"however {sentence2}"
        rows.append(
            {"sentence1": sentence1, "sentence2": sentence2, "label": PARAPHRASE_LABELS[label]}
        )
    return rows


# Multi-label comment moderation: each label has its own cue words and base rate, labels
# co-occur independently (insults often come with "toxic" too, through a shared cue).
MODERATION = {
    "toxic": (0.30, ["nasty", "hateful", "vile", "rotten", "spiteful"]),
    "insult": (0.20, ["clown", "fool", "buffoon", "nitwit", "dimwit"]),
    "threat": (0.08, ["punish", "crush", "ruin", "wreck", "smash"]),
    "spam": (0.15, ["discount", "click", "subscribe", "coupon", "winner"]),
}
COMMENT_WORDS = [
    "this",
    "post",
    "comment",
    "thread",
    "reply",
    "honestly",
    "really",
    "your",
    "idea",
    "take",
    "about",
    "again",
    "today",
    "page",
    "people",
    "is",
    "so",
]


def moderation_corpus(n: int, *, seed: int = 0, noise: float = 0.05) -> list[dict[str, Any]]:
    """Comment-like snippets with a list of moderation labels each (``labels``, maybe empty):
    each label is present at its base rate in MODERATION and shows through its cue words; with
    probability ``noise`` a label's cue appears without the label (or the label without it)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        gold = [name for name, (rate, _) in MODERATION.items() if rng.random() < rate]
        cued = [name for name in MODERATION if (name in gold) != (rng.random() < noise)]
        words = rng.sample(COMMENT_WORDS, rng.randint(3, 7))
        for name in cued:
            words += rng.sample(MODERATION[name][1], 1)
        if "insult" in cued and rng.random() < 0.5:
            words.append(rng.choice(MODERATION["toxic"][1]))
        rng.shuffle(words)
        rows.append({"text": " ".join(words) + ".", "labels": gold})
    return rows


def build_tokenizer(texts: Sequence[str], *, vocab_size: int = 600, max_length: int = 128) -> Any:
    """A lower-casing WordPiece tokenizer trained on ``texts`` (BERT special tokens)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    backend = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.train_from_iterator(
        texts, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials)
    )
    cls_id, sep_id = backend.token_to_id("[CLS]"), backend.token_to_id("[SEP]")
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_length,
    )


LEARNING_RATE = 3e-3
BATCH_SIZE = 32


def train_tiny_distilbert(
    rows: Sequence[dict[str, Any]],
    labels: Sequence[str],
    output_dir: str | Path,
    *,
    dim: int = 32,
    layers: int = 2,
    epochs: int = 3,
    seed: int = 0,
    id2label: dict[int, str] | None = None,
    validation: Sequence[dict[str, Any]] | None = None,
    history: list[dict[str, float]] | None = None,
    multi_label: bool = False,
    text_pairs: tuple[str, str] | None = None,
    learning_rate: float = LEARNING_RATE,
) -> Path:
    """Train a DistilBERT of width ``dim`` on ``rows`` and save it with its tokenizer.

    With ``history``, one entry per epoch is appended to it: ``epoch``, ``step``, mean
    training ``loss`` and ``accuracy``, and ``val_loss`` / ``val_accuracy`` on ``validation``.
    ``multi_label`` trains a sigmoid head (``problem_type: multi_label_classification``) on
    rows whose ``labels`` list the gold labels; no history is kept then. ``text_pairs`` names
    the two text columns of sentence-pair rows, encoded as one pair (default: ``text``).
    """
    import torch
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    torch.manual_seed(seed)
    columns = text_pairs or ("text",)
    texts = [[row[column] for column in columns] for row in rows]
    tokenizer = build_tokenizer([" ".join(text) for text in texts])
    config = DistilBertConfig(  # type: ignore[call-arg]
        vocab_size=tokenizer.vocab_size,
        dim=dim,
        hidden_dim=dim * 2,
        n_layers=layers,
        n_heads=2,
        max_position_embeddings=128,
        num_labels=len(labels),
        id2label=id2label or dict(enumerate(labels)),
        label2id={name: i for i, name in (id2label or dict(enumerate(labels))).items()},
        pad_token_id=tokenizer.pad_token_id,
        problem_type="multi_label_classification" if multi_label else None,
    )
    model = DistilBertForSequenceClassification(config)
    index = {label: i for i, label in enumerate(labels)}
    if multi_label:
        targets = torch.tensor([[float(x in row["labels"]) for x in labels] for row in rows])
        history = None
    else:
        targets = torch.tensor([index[row["label"]] for row in rows])
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    generator = torch.Generator().manual_seed(seed)
    step = 0
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(rows), generator=generator)
        total_loss, correct = 0.0, 0
        for start in range(0, len(rows), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE].tolist()
            encoded = _encode(tokenizer, [texts[i] for i in batch])
            output = model(**encoded, labels=targets[batch])
            optimizer.zero_grad()
            output.loss.backward()
            optimizer.step()
            step += 1
            total_loss += output.loss.item() * len(batch)
            if not multi_label:
                correct += int((output.logits.argmax(-1) == targets[batch]).sum())
        if history is not None:
            entry = {
                "epoch": float(epoch),
                "step": float(step),
                "loss": total_loss / len(rows),
                "accuracy": correct / len(rows),
            }
            if validation:
                entry.update(_validation_scores(model, tokenizer, validation, index, columns))
            history.append(entry)
    model.eval()
    out = Path(output_dir)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def _validation_scores(
    model: Any,
    tokenizer: Any,
    rows: Sequence[dict[str, Any]],
    index: dict[str, int],
    columns: Sequence[str],
) -> dict[str, float]:
    """Mean loss and accuracy of ``model`` on ``rows``."""
    import torch

    model.eval()
    total_loss, correct = 0.0, 0
    with torch.inference_mode():
        for start in range(0, len(rows), 256):
            batch = rows[start : start + 256]
            encoded = _encode(tokenizer, [[r[column] for column in columns] for r in batch])
            gold = torch.tensor([index[r["label"]] for r in batch])
            output = model(**encoded, labels=gold)
            total_loss += output.loss.item() * len(batch)
            correct += int((output.logits.argmax(-1) == gold).sum())
    return {"val_loss": total_loss / len(rows), "val_accuracy": correct / len(rows)}


def _encode(tokenizer: Any, texts: Sequence[Sequence[str]]) -> Any:
    """One padded batch of texts (one column each) or text pairs (two columns each)."""
    columns = [list(column) for column in zip(*texts, strict=True)]
    return tokenizer(*columns, padding=True, return_tensors="pt")

"""The claims a card makes: its ``model-index`` results and its ``.eval_results`` entries.

A claim is one metric value said to hold for a model on one dataset, config and split (at a
revision, when the card names one), with the metric's id and arguments as written and the value
as printed (its precision counts: see ``verdicts``). The card is untrusted: it is read with the
bounded readers of ``cardgen.cards.file``, and the ``.eval_results`` folder beside it with
``cardgen.cards.eval_results_folder``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cardgen.cards.eval_results_folder import read_eval_results_dir
from cardgen.cards.eval_results_format import by_cardgen, claimed_metric
from cardgen.cards.file import card_metadata_problems, read_card_text
from cardgen.cards.frontmatter import parse_metadata, split_front_matter
from cardgen.errors import CardError, UsageError
from cardgen.trust.untrusted import compose_yaml, quote

MAX_LISTED = 10


@dataclass(frozen=True)
class Claim:
    """One claimed metric value (``where`` says where in the card it is written)."""

    where: str
    dataset: str
    metric: str
    value: float
    printed: str
    config: str | None = None
    split: str | None = None
    revision: str | None = None
    task: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    unknown_reason: str | None = None
    """Why the claim's metric cannot be known at all (another tool's ``.eval_results`` entry)."""

    @property
    def label(self) -> str:
        """``f1 (average=macro)``: the metric id with its arguments, for tables."""
        if not self.args:
            return self.metric
        shown = ", ".join(f"{key}={value}" for key, value in self.args.items())
        return f"{self.metric} ({shown})"


def default_card(model: str, revision: str | None = None) -> tuple[Path, Path]:
    """``(card, base)``: the README.md of a local model directory (or beside a model file), or
    of a Hub model in the local Hugging Face cache, with the folder its links must stay in;
    UsageError when there is none."""
    path = Path(model)
    if path.exists():
        folder = path if path.is_dir() else path.parent
        return folder / "README.md", folder
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(model, "README.md", revision=revision)
    except Exception:  # not a valid repo id
        found = None
    if not isinstance(found, str):
        raise UsageError(
            f"no README.md of model {quote(model)} in the Hugging Face cache; download it, or "
            "pass the card to verify with --card"
        )
    card = Path(found)
    return card, card.parent.parent.parent  # models--OWNER--NAME/snapshots/COMMIT/README.md


def read_claims(card: str | os.PathLike[str], *, base: Path | None = None) -> list[Claim]:
    """Every claim of ``card``'s ``model-index`` and of the ``.eval_results`` folder beside it;
    CardError for a model-index the Hub would refuse, UsageError for a card without claims."""
    path = Path(card)
    text = read_card_text(path, base=base)
    front, _ = split_front_matter(text)
    claims: list[Claim] = []
    if front is not None:
        metadata = parse_metadata(front, source=str(path), fix="fix the card")
        if "model-index" in metadata:
            claims += _index_claims(metadata, front, path)
    for file in read_eval_results_dir(path, base=base):
        for number, entry in enumerate(file.entries, 1):
            claims.append(_entry_claim(entry, f"{file.path_in_repo} entry {number}"))
    if not claims:
        raise UsageError(
            f"{path} claims no results: it has no model-index in its front matter and no "
            ".eval_results files beside it; pass the card that holds the claims with --card"
        )
    return claims


def _index_claims(metadata: dict[str, Any], front: str, path: Path) -> list[Claim]:
    problems = [p for p in card_metadata_problems(metadata) if p.startswith("model-index")]
    if problems:
        listed = "; ".join(problems[:MAX_LISTED])
        raise CardError(f"the model-index of {path} is malformed: {listed}; fix the card")
    printed = _printed_values(front, str(path))
    claims = []
    for i, entry in enumerate(metadata["model-index"]):
        for j, result in enumerate(entry["results"]):
            task, dataset = result["task"], result["dataset"]
            for k, metric in enumerate(result["metrics"]):
                args = metric.get("args")
                odd = args is not None and not isinstance(args, dict)
                claims.append(
                    Claim(
                        where=f"model-index[{i}].results[{j}].metrics[{k}]",
                        dataset=str(dataset["type"]),
                        config=dataset.get("config"),
                        split=dataset.get("split"),
                        revision=dataset.get("revision"),
                        task=str(task["type"]),
                        metric=str(metric["type"]),
                        args=dict(args) if isinstance(args, dict) else {},
                        value=float(metric["value"]),
                        printed=printed.get((i, j, k), repr(float(metric["value"]))),
                        name=metric.get("name"),
                        unknown_reason=(
                            f"its args {quote(args)} are no mapping of argument names to "
                            "values (write args: {average: macro})"
                            if odd
                            else None
                        ),
                    )
                )
    return claims


def _printed_values(front: str, source: str) -> dict[tuple[int, int, int], str]:
    """Each model-index metric value as written in the card (``0.90`` has two decimals)."""
    root = compose_yaml(front, source=source, error=CardError)
    found: dict[tuple[int, int, int], str] = {}
    for i, entry in enumerate(_items(_child(root, "model-index"))):
        for j, result in enumerate(_items(_child(entry, "results"))):
            for k, metric in enumerate(_items(_child(result, "metrics"))):
                value = _child(metric, "value")
                if isinstance(value, yaml.ScalarNode):
                    found[(i, j, k)] = value.value
    return found


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    return next((v for k, v in node.value if getattr(k, "value", None) == key), None)


def _items(node: yaml.Node | None) -> list[yaml.Node]:
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _entry_claim(entry: Any, where: str) -> Claim:
    """A claim of an ``.eval_results`` entry: cardgen's say which metric and split they are (in
    their notes); another tool's entry does not say which metric its value is."""
    metric = claimed_metric(entry)
    split = None
    notes = entry.notes if isinstance(entry.notes, str) else ""
    if by_cardgen(entry) and notes.startswith("split: "):
        split = notes.removeprefix("split: ").split(";", 1)[0]
    config = entry.task_id if entry.task_id != "default" else None
    reason = None
    if metric is None:
        reason = (
            f"the entry (from {quote(entry.source_name or 'an unnamed source')}) does not say "
            "which metric its value is"
        )
    return Claim(
        where=where,
        dataset=entry.dataset_id,
        config=config,
        split=split,
        revision=entry.dataset_revision,
        metric=metric or "unknown",
        value=float(entry.value),
        printed=repr(float(entry.value)),
        unknown_reason=reason,
    )

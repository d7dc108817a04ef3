"""``verify_card``: re-run the evaluations a card claims and judge each claim.

Claims are grouped by dataset, config, split and revision; each group is evaluated once through
``cardgen.evaluation.run.evaluate`` (any engine) into its own run directory under
``output_dir``. A group's rows are the local file or directory passed for its dataset id, or the
dataset's snapshot in the local Hugging Face cache (at the claimed revision, else main), whose
commit is recorded. Nothing is downloaded: a dataset in neither place makes its claims not
checkable, and so does a claim without a split on Hub data (cardgen would have to guess it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cardgen.cards.conventions import HUB_ID
from cardgen.cards.eval_results_format import eval_results_name
from cardgen.data.hub import hub_snapshot
from cardgen.errors import DataError, LabelError, UsageError
from cardgen.results.rundir import staged_run_dir
from cardgen.results.schema import EvalResults
from cardgen.trust.untrusted import quote
from cardgen.verify.claims import Claim, default_card, read_claims
from cardgen.verify.measure import Unchecked, measure, precheck
from cardgen.verify.report import ClaimResult, DatasetUsed, VerifyReport, judge

DEFAULT_OUTPUT = Path("runs/verify")
# Options of ``evaluate`` that verify passes on; the others would change what is measured.
EVALUATE_OPTIONS = frozenset(
    {
        "text_column",
        "text_pair_column",
        "label_column",
        "label_map",
        "label_order",
        "batch_size",
        "max_length",
        "device",
        "dtype",
        "revision",
        "trust_remote_code",
        "allow_pickle",
        "trusted_types",
        "progress",
        "threshold",
        "engine",
        "spark_master",
        "label_format",
    }
)
Group = tuple[str, str | None, str | None, str | None]


def verify_card(
    model: str | os.PathLike[str],
    *,
    card: str | os.PathLike[str] | None = None,
    datasets: Mapping[str, str | os.PathLike[str]] | None = None,
    output_dir: str | os.PathLike[str] = DEFAULT_OUTPUT,
    n_bootstrap: int = 10_000,
    seed: int = 0,
    **options: Any,
) -> VerifyReport:
    """Verify the claims of ``card`` (default: the model's own README.md, see
    ``claims.default_card``) about ``model``, and write ``verification.json`` into
    ``output_dir``. ``datasets`` maps a claimed dataset id to a local file or directory of its
    rows; ``options`` are ``evaluate``'s (``EVALUATE_OPTIONS``: columns, device, engine...).
    """
    unknown = sorted(set(options) - EVALUATE_OPTIONS)
    if unknown:
        raise UsageError(
            f"verify does not take {', '.join(map(quote, unknown))}: it re-runs each claim on "
            "its whole split; it takes " + ", ".join(sorted(EVALUATE_OPTIONS))
        )
    model_text = os.fspath(model)
    if card is not None:
        path, base = Path(card), None
    else:
        path, base = default_card(model_text, options.get("revision"))
    claims = read_claims(path, base=base)
    local = _check_datasets(datasets or {}, claims)
    verdicts: dict[int, ClaimResult] = {}
    groups: dict[Group, list[int]] = {}
    for number, claim in enumerate(claims):
        reason = claim.unknown_reason or precheck(claim.task, claim.metric, claim.args, claim.value)
        if reason is not None:
            verdicts[number] = judge(claim, Unchecked("not_checkable", reason))
        else:
            key = (claim.dataset, claim.config, claim.split, claim.revision)
            groups.setdefault(key, []).append(number)
    used: list[DatasetUsed] = []
    first: EvalResults | None = None
    out = Path(output_dir)
    # every group's run and verification.json appear together, or none: a group that stops
    # the verification (a usage error) leaves the output directory as it was
    with staged_run_dir(out) as staging:
        assert staging is not None
        for key, numbers in groups.items():
            results, problem = _evaluate_group(
                model_text, key, local, staging, n_bootstrap, seed, options
            )
            for number in numbers:
                claim = claims[number]
                if results is None:
                    verdicts[number] = judge(claim, Unchecked("not_checkable", problem))
                else:
                    found = measure(
                        claim.metric, claim.args, results, n_bootstrap=n_bootstrap, seed=seed
                    )
                    verdicts[number] = judge(claim, found)
            if results is not None:
                first = first or results
                used.append(_dataset_used(key, results, out / _slug(key)))
        report = _report(model_text, path, claims, verdicts, used, first, n_bootstrap, seed)
        report.save(staging)
    return report


def _report(
    model: str,
    card: Path,
    claims: list[Claim],
    verdicts: Mapping[int, ClaimResult],
    used: list[DatasetUsed],
    first: EvalResults | None,
    n_bootstrap: int,
    seed: int,
) -> VerifyReport:
    """The report of ``claims`` with their ``verdicts`` and the datasets the groups used."""
    from cardgen import __version__

    return VerifyReport(
        model=first.model.id if first else model,
        card=str(card),
        results=[verdicts[number] for number in range(len(claims))],
        datasets=used,
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        cardgen_version=__version__,
        n_bootstrap=n_bootstrap,
        seed=seed,
        model_revision=first.model.revision if first else None,
        weights_hash=first.model.weights_hash if first else None,
    )


def _check_datasets(
    datasets: Mapping[str, str | os.PathLike[str]], claims: list[Claim]
) -> dict[str, Path]:
    """``--dataset ID=PATH`` checked: each id is claimed, each path exists."""
    named = sorted({claim.dataset for claim in claims})
    local = {}
    for dataset_id, where in datasets.items():
        if dataset_id not in named:
            raise UsageError(
                f"--dataset {quote(dataset_id)}: no claim of the card names that dataset; the "
                f"claims name: {', '.join(map(quote, named))}"
            )
        path = Path(where)
        if not path.exists():
            raise UsageError(
                f"--dataset {dataset_id}={quote(os.fspath(where))}: no such file or directory"
            )
        local[dataset_id] = path
    return local


def _evaluate_group(
    model: str,
    key: Group,
    local: Mapping[str, Path],
    out: Path,
    n_bootstrap: int,
    seed: int,
    options: Mapping[str, Any],
) -> tuple[EvalResults | None, str]:
    """The run of one group of claims, or None and why its claims cannot be checked."""
    from cardgen.evaluation.run import evaluate

    dataset, config, split, revision = key
    source: Path | None = local.get(dataset)
    if source is None:
        if split is None:
            return None, (
                f"the claim names no split of {dataset}, and cardgen does not guess one; pass "
                f"--dataset {dataset}=PATH with the rows it was measured on"
            )
        source = hub_snapshot(dataset, revision) if HUB_ID.fullmatch(dataset) else None
        if source is None:
            at = f" at revision {revision}" if revision else ""
            return None, (
                f"dataset unavailable: {dataset}{at} is not in the local Hugging Face cache; "
                f"download it, or pass --dataset {dataset}=PATH"
            )
    try:
        results = evaluate(
            model,
            source,
            split=split,
            dataset_config=config,
            dataset_id=dataset if HUB_ID.fullmatch(dataset) else None,
            output_dir=out / _slug(key),
            n_bootstrap=n_bootstrap,
            seed=seed,
            **options,
        )
    except LabelError as exc:
        return None, f"label set mismatch: {exc}"
    except DataError as exc:
        return None, f"dataset unavailable or unreadable: {exc}"
    return results, ""


def _slug(key: Group) -> str:
    """The run directory of a group: a safe name from its dataset, config and split."""
    dataset, config, split, revision = key
    tail = "--".join(part for part in (split, revision) if part)
    return eval_results_name(dataset, config, tail or None).removesuffix(".yaml")


def _dataset_used(key: Group, results: EvalResults, run_dir: Path) -> DatasetUsed:
    dataset, config, split, _ = key
    info = results.dataset
    return DatasetUsed(
        id=dataset,
        config=config,
        split=info.split or split,
        source=info.source,
        revision=info.revision,
        fingerprint=info.fingerprint,
        num_rows=info.num_rows,
        run_dir=str(run_dir),
    )

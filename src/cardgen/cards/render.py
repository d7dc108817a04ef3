"""Model cards: results (+ options) -> Jinja context -> Markdown with Hub metadata.

The context and the YAML front matter are built in ``card_context``; the body comes from a
Jinja template whose machine-written sections sit between markers (see ``sections``), so
re-rendering onto an existing card keeps what a person wrote around them. Nothing here imports
torch.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardgen.cards.context import card_context
from cardgen.cards.export import (
    GENERATOR,
    card_images,
    card_to_html,
    copy_images,
    image_names,
    image_sources,
)
from cardgen.cards.file import check_merged_metadata
from cardgen.cards.frontmatter import parse_metadata, split_front_matter
from cardgen.cards.sections import (
    check_replaceable,
    check_section,
    read_existing_card,
    refresh_file,
    seal,
    tag_model,
)
from cardgen.cards.training import (
    check_hyperparameters,
    effective_hyperparameters,
    load_hyperparameters,
    load_training_history,
)
from cardgen.errors import CardError, OutputError, UsageError
from cardgen.gate.values import checked_results
from cardgen.results.rundir import run_outputs
from cardgen.results.schema import EvalResults, load_results
from cardgen.trust.atomic import atomic_open
from cardgen.trust.untrusted import check_output_file, quote

# Sections a person can fill with --section NAME=FILE in the default template.
USER_SECTIONS = ("model_description", "intended_uses", "training_data", "risks")


@dataclass
class RenderedCard:
    """A rendered card, the run files it links (path relative to the card -> source) and the
    run directory they come from."""

    text: str
    images: dict[str, Path]
    run_dir: Path | None = None
    labels: list[str] = field(default_factory=list)


def render_card(
    results: EvalResults | str | Path,
    *,
    template: str | Path | None = None,
    output: str | Path | None = None,
    output_format: str = "md",
    model_name: str | None = None,
    base_model: str | None = None,
    license: str | None = None,
    training_history: str | Path | None = None,
    hyperparameters: str | Path | Mapping[str, Any] | None = None,
    sections: Mapping[str, str] | None = None,
    overwrite: bool = False,
    dataset_id: str | None = None,
    dataset_config: str | None = None,
    dataset_split: str | None = None,
    language: Sequence[str] | None = None,
    merge: bool = False,
    discard_edits: bool = False,
    verification: str | Path | None = None,
) -> str:
    """Render the model card of a run and return it; with ``output``, also write it.

    ``results`` is a run directory, a results file or loaded results (their images are then
    linked but not copied). ``template`` is a Jinja template (rendered in a sandbox); ``sections``
    maps a section name (``intended_uses``, ``model_description``, ``training_data``, ``risks``)
    to Markdown text; ``hyperparameters`` is a mapping or a JSON file. With ``output`` the
    run's PNGs are copied beside the card (beside a card not named README, under names that
    start with the card's: ``other.md`` links ``other.confusion_matrix.png``, so that several
    cards in one folder keep their own images), and an existing Markdown card is refreshed:
    its cardgen sections are replaced and everything else is kept (``overwrite`` replaces it
    whole; ``merge`` adds cardgen's sections to a card written without cardgen, keeping all
    of it: see ``cardgen.cards.merge``). ``dataset_id`` / ``dataset_config`` / ``dataset_split``
    say which Hub dataset the evaluation data is, ``language`` the ISO 639 codes of the
    texts; ``license`` must be a Hub license id. ``output_format="html"`` gives a
    standalone, sanitized HTML page instead; it replaces only an HTML card cardgen wrote,
    other files need ``overwrite``. Refreshing a card of another model is refused, and so is an
    ``output`` that is a link or any other non-regular file (nothing is written through a
    link; the card's images are read only from inside the run directory). A cardgen section
    that a person edited is refused too, unless ``discard_edits`` (see
    ``cardgen.cards.sections``); so is a merged card whose metadata the Hub would refuse.
    ``verification`` (a ``verification.json`` of ``cardgen verify``) adds the section "Verified
    results" (see ``cardgen.cards.verified``). A
    run that does not fit the existing card (another model name, label set or dataset) is a
    warning, and a note in the card (see ``cardgen.cards.fit``). Raises a CardgenError on bad
    input before anything is written.
    """
    if output_format not in ("md", "html"):
        raise UsageError(f"--format must be 'md' or 'html', got {quote(output_format)}")
    target = Path(output) if output is not None else None
    if target is not None and "\x00" in str(target):
        raise OutputError(f"--output {quote(str(target))} contains a NUL character")
    if target is not None and target.is_dir():
        raise OutputError(
            f"--output {target} is a directory; pass the card's file path, "
            f"e.g. {target / ('README.html' if output_format == 'html' else 'README.md')}"
        )
    if target is not None:
        check_output_file(target, error=OutputError, what="the card")
    card = build_card(
        results,
        template=template,
        model_name=model_name,
        base_model=base_model,
        license=license,
        training_history=training_history,
        hyperparameters=hyperparameters,
        sections=sections,
        dataset_id=dataset_id,
        dataset_config=dataset_config,
        dataset_split=dataset_split,
        language=language,
        output=target,
        verification=verification,
    )
    if target is not None and card.run_dir is not None:
        _check_not_a_run_file(target, card.run_dir)
    text = card.text
    if merge and (overwrite or output_format != "md" or target is None):
        raise UsageError(
            "--merge adds cardgen's sections to an existing Markdown card: pass it with "
            "--output CARD.md, without --overwrite or --format html"
        )
    if output_format == "md" and target is not None and not overwrite:
        text = _onto_existing(
            target, card, merge=merge, sections=sections or {}, discard_edits=discard_edits
        )
    if output_format == "html":
        if target is not None and not overwrite:
            check_replaceable(target, GENERATOR, what="an HTML card written by cardgen")
        text = card_to_html(text)
    if target is not None:
        copy_images(card.images, card.run_dir, target.parent)
        try:
            with atomic_open(target, "wb") as handle:  # bytes: CRLF stays CRLF on any system
                handle.write(text.encode("utf-8"))
        except OutputError:
            raise
        except OSError as exc:
            raise OutputError(
                f"cannot write the card {target}: {exc.strerror or exc}; choose another --output"
            ) from exc
    return text


def build_card(
    results: EvalResults | str | Path,
    *,
    template: str | Path | None = None,
    model_name: str | None = None,
    base_model: str | None = None,
    license: str | None = None,
    training_history: str | Path | None = None,
    hyperparameters: str | Path | Mapping[str, Any] | None = None,
    sections: Mapping[str, str] | None = None,
    dataset_id: str | None = None,
    dataset_config: str | None = None,
    dataset_split: str | None = None,
    language: Sequence[str] | None = None,
    output: str | Path | None = None,
    verification: str | Path | None = None,
) -> RenderedCard:
    """The card as freshly rendered from a template (no refresh, nothing written); ``output``,
    the card's path, names the images copied beside it (see ``image_names``)."""
    from cardgen.cards.templating import render_template

    loaded, run_dir = _load(results)
    user_sections = dict(sections or {})
    if template is None:
        unknown = sorted(set(user_sections) - set(USER_SECTIONS))
        if unknown:
            raise UsageError(
                f"unknown section {', '.join(map(quote, unknown))}; the default template has "
                f"these sections to fill: {', '.join(USER_SECTIONS)}"
            )
    for name, section in user_sections.items():
        if not isinstance(section, str):
            raise UsageError(
                f"section {quote(name)} must be Markdown text, got a {type(section).__name__}"
            )
        check_section(name, section)
    history = load_training_history(training_history) if training_history else None
    params = dict(history.hyperparameters) if history else {}
    if isinstance(hyperparameters, Mapping):
        params.update(check_hyperparameters(hyperparameters, source="the hyperparameters"))
    elif hyperparameters is not None:
        params.update(load_hyperparameters(hyperparameters))
    images = card_images(loaded, run_dir)
    names = image_names(images, Path(output) if output is not None and run_dir else None)
    context = card_context(
        loaded,
        model_name=model_name,
        base_model=base_model,
        license=license,
        history=history,
        hyperparameters=effective_hyperparameters(params),
        sections=user_sections,
        images={name: path.as_posix() for name, path in names.items()},
        run_dir=run_dir,
        dataset_id=dataset_id,
        dataset_config=dataset_config,
        dataset_split=dataset_split,
        language=[language] if isinstance(language, str) else language,
    )
    context["verification"] = None
    if verification is not None:
        from cardgen.cards.verified import load_verification

        context["verification"] = load_verification(verification)
    text = render_template(template, context)
    source = "the card" if template is None else f"the card rendered from template {template}"
    check_metadata(text, context["metadata"], source=source)
    text = seal(tag_model(text, context["model"]["source"]))
    return RenderedCard(
        text=text,
        images=image_sources(images, names, run_dir),
        run_dir=run_dir,
        labels=list(loaded.labels),
    )


def _onto_existing(
    target: Path,
    card: RenderedCard,
    *,
    merge: bool,
    sections: Mapping[str, str],
    discard_edits: bool,
) -> str:
    """``card`` refreshed into, or merged into, the card at ``target`` (``card`` as it is when
    there is none), with a note on each way the run does not fit that card; CardError for
    merged metadata the Hub would refuse."""
    from cardgen.cards.fit import misfits, with_note

    existing = read_existing_card(target)
    if not existing.removeprefix("\ufeff").strip():
        return card.text
    problems = misfits(existing, card.text, card.labels, source=str(target))
    text = with_note(card.text, problems)
    if merge:
        from cardgen.cards.merge import merge_file

        text = merge_file(target, text, include=set(sections), discard_edits=discard_edits)
    else:
        text = refresh_file(target, text, sections, discard_edits=discard_edits)
    fix = f"fix it in {target} (cardgen keeps your front matter as it is) and run again"
    check_merged_metadata(text, card.text, source=f"{target} with cardgen's sections", fix=fix)
    for problem in problems:
        warnings.warn(
            f"{target}: {problem}; these results may not belong to this card: check --output "
            "and the run (the card says so too, at the top of its evaluation section)",
            stacklevel=4,
        )
    return text


def check_metadata(
    text: str, expected: Mapping[str, Any], *, source: str = "the rendered card"
) -> None:
    """Parse the card's front matter back with ``ModelCardData`` and compare it with ``expected``.

    Catches templates that drop or mangle the metadata (e.g. a CI in a metric value).
    """
    from huggingface_hub.repocard_data import ModelCardData

    front, _ = split_front_matter(text)
    fix = "keep `{{ card_data }}` in the front matter as is"
    if front is None:
        raise CardError(
            f"{source} has no YAML front matter; a template must start with "
            "`---`, `{{ card_data }}`, `---` so that the Hub reads the metadata"
        )
    metadata = parse_metadata(front, source=source, fix=fix)
    try:
        parsed = ModelCardData(**metadata).to_dict()
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise CardError(f"the metadata of {source} is invalid: {quote(str(exc))}; {fix}") from exc
    for key in ("model-index", "pipeline_tag", "library_name"):
        if parsed.get(key) != expected.get(key):
            raise CardError(
                f"{source}: its metadata has {key}={quote(parsed.get(key))}, expected "
                f"{quote(expected.get(key))}; {fix}"
            )


def _check_not_a_run_file(target: Path, run_dir: Path) -> None:
    """OutputError when ``target`` is one of the run's own files (results.json, predictions,
    plots): a card written there, even with --overwrite, would destroy the run."""
    if target.parent.resolve() == run_dir.resolve() and target.name in run_outputs(run_dir):
        raise OutputError(
            f"--output {target} is the run's own {target.name}, not a card; write the card "
            f"beside it, e.g. {run_dir / 'README.md'}"
        )


def _load(results: EvalResults | str | Path) -> tuple[EvalResults, Path | None]:
    if isinstance(results, EvalResults):
        return checked_results(results, "the results"), None
    path = Path(results)
    return checked_results(load_results(path), str(path)), path if path.is_dir() else path.parent

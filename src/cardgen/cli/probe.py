"""``cardgen probe``: bias probes (templates x lexicons) on a model."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from cardgen.cli._app import app, console
from cardgen.cli._options import (
    AllowPickle,
    BatchSize,
    Device,
    Dtype,
    Engine,
    MaxLength,
    Progress,
    Revision,
    SparkMaster,
    Trust,
    TrustRemoteCode,
    parse_batch_size,
    split_probes,
)
from cardgen.display.tables import probe_extremes_table, probe_summary_table
from cardgen.errors import UsageError
from cardgen.evaluation.options import check_engine, check_run_options
from cardgen.probes import (
    BUILTIN_SUITES,
    Lexicon,
    Probe,
    load_lexicon,
    resolve_probes,
    run_probes,
    template_probe,
)


def parse_lexicon_options(values: list[str] | None) -> dict[str, Lexicon]:
    """``--lexicon NAME=FILE`` options -> placeholder -> Lexicon (one entry per placeholder)."""
    lexicons: dict[str, Lexicon] = {}
    for value in values or []:
        name, sep, file = value.partition("=")
        if not sep or not name.strip() or not file.strip():
            raise UsageError(
                f"--lexicon expects PLACEHOLDER=FILE (e.g. COUNTRY=countries.txt), got {value!r}"
            )
        lexicon = load_lexicon(file.strip(), placeholder=name.strip())
        lexicons.update(dict.fromkeys(lexicon.placeholders, lexicon))
    return lexicons


@app.command()
def probe(
    model: Annotated[
        str | None,
        typer.Option(
            help="Model directory, hub id, .skops or pickle file. Default: the embedded demo model."
        ),
    ] = None,
    probe: Annotated[
        list[str] | None,
        typer.Option(
            "--probe",
            "--probes",
            help="Built-in probe (country, nationality, religion, gender-names, pronouns) or a "
            ".toml/.yaml probe file; comma-separated or repeated. Default: all built-in probes "
            "unless --template is given.",
        ),
    ] = None,
    template: Annotated[
        list[str] | None,
        typer.Option(
            help="A template of your own, e.g. 'This film was filmed in {COUNTRY}.' (repeatable; "
            "all form one probe).",
        ),
    ] = None,
    lexicon: Annotated[
        list[str] | None,
        typer.Option(
            help="PLACEHOLDER=FILE: fill {PLACEHOLDER} from a lexicon file (one term per line, "
            "optionally TAB group) instead of the built-in terms (repeatable).",
        ),
    ] = None,
    name: Annotated[str, typer.Option(help="Name of the --template probe.")] = "custom",
    target_label: Annotated[
        str | None,
        typer.Option(
            help="Label whose probability is compared, for probes that name none "
            "[default: the model's positive label; required without one]."
        ),
    ] = None,
    expected_label: Annotated[
        str | None,
        typer.Option(help="Label every --template fill should get (a minimum functionality test)."),
    ] = None,
    bootstrap: Annotated[
        int, typer.Option(help="Bootstrap resamples of templates for the range's 95% CI.")
    ] = 1000,
    seed: Annotated[int, typer.Option(help="Seed for the bootstrap.")] = 0,
    batch_size: BatchSize = "auto",
    max_length: MaxLength = None,
    device: Device = "auto",
    dtype: Dtype = "auto",
    revision: Revision = None,
    trust_remote_code: TrustRemoteCode = False,
    allow_pickle: AllowPickle = False,
    trust: Trust = None,
    output_dir: Annotated[
        Path, typer.Option(help="Where probes.json, probe_fills.jsonl and the plots go.")
    ] = Path("runs/probes"),
    progress: Progress = True,
    engine: Engine = "local",
    spark_master: SparkMaster = None,
) -> None:
    """Run bias probes: fill neutral templates with countries, names, ... and compare labels."""
    from cardgen.demo import DEMO_MODEL
    from cardgen.models import load_model

    check_run_options(
        batch_size=parse_batch_size(batch_size),
        max_length=max_length,
        device=device,
        dtype=dtype,
        n_bootstrap=bootstrap,
        seed=seed,
    )
    check_engine(engine, spark_master)
    if not template and (expected_label is not None or name != "custom"):
        raise UsageError("--name and --expected-label describe a --template probe; add --template")
    lexicons = parse_lexicon_options(lexicon)
    specs: list[str | Probe] = []
    specs.extend(split_probes(probe) or ([] if template else BUILTIN_SUITES))
    if template:
        specs.append(
            template_probe(name, template, lexicons=lexicons, expected_label=expected_label)
        )
    probes = resolve_probes(specs, lexicons=lexicons)
    load = load_model
    if engine == "spark":
        from cardgen.engines.spark import spark_classifier

        load = partial(spark_classifier, spark_master=spark_master)
    classifier = load(
        str(model or DEMO_MODEL),
        revision=revision,
        device=device,
        dtype=dtype,
        max_length=max_length,
        trust_remote_code=trust_remote_code,
        allow_pickle=allow_pickle,
        trusted_types=trust or (),
    )
    results = run_probes(
        classifier,
        probes,
        target_label=target_label,
        n_bootstrap=bootstrap,
        seed=seed,
        batch_size=parse_batch_size(batch_size),
        progress=progress,
        output_dir=output_dir,
    )
    console.print(probe_summary_table(results))
    for result in results.values():
        console.print(probe_extremes_table(result))
    console.print(f"probe results written to {output_dir / 'probes.json'}", highlight=False)

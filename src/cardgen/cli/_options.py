"""Options shared by the commands that load a model (``evaluate``, ``probe``)."""

from __future__ import annotations

from typing import Annotated

import typer

from cardgen.errors import UsageError

BatchSize = Annotated[str, typer.Option(help="'auto' (a token budget) or a fixed batch size.")]
MaxLength = Annotated[
    int | None,
    typer.Option(help="Truncate inputs to this many tokens [default: the model's maximum]."),
]
Device = Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")]
Dtype = Annotated[
    str,
    typer.Option(
        help="auto (exact-fast: bf16, then fp32 for rows near a tie, on a GPU or a CPU with "
        "native bf16; else fp32), float32, float16 or bfloat16."
    ),
]
Revision = Annotated[str | None, typer.Option(help="Hub revision (branch, tag or commit).")]
TrustRemoteCode = Annotated[
    bool, typer.Option(help="Allow a hub model's own code to run. Off unless you trust it.")
]
AllowPickle = Annotated[
    bool, typer.Option(help="Allow loading .joblib/.pkl files, which can run arbitrary code.")
]
Trust = Annotated[list[str] | None, typer.Option(help="A skops type to trust (repeatable).")]
Progress = Annotated[bool, typer.Option(help="Show a progress bar.")]


def parse_batch_size(value: str) -> int | None:
    """``auto`` -> None (sized by a token budget), else a positive integer."""
    if value == "auto":
        return None
    if not value.isdigit() or int(value) < 1:
        raise UsageError(f"--batch-size must be 'auto' or a positive integer, got {value!r}")
    return int(value)

Engine = Annotated[
    str,
    typer.Option(
        help="Where the model runs: local (this process) or spark (executors of a Spark "
        "cluster; needs pip install 'cardgen[spark]' and Java 17+)."
    ),
]
SparkMaster = Annotated[
    str | None,
    typer.Option(
        help="With --engine spark: the cluster, e.g. local[4], spark://host:7077 or yarn "
        "[default: the active SparkSession, else local[*]]."
    ),
]


def split_probes(values: list[str] | None) -> list[str]:
    """``--probe a,b --probe c`` -> ``[a, b, c]``; UsageError when given ones name nothing."""
    names = [item.strip() for value in values or [] for item in value.split(",") if item.strip()]
    if values is not None and not names:
        from cardgen.probes import BUILTIN_SUITES

        raise UsageError(
            f"--probes names no probe (got {', '.join(map(repr, values))}); name some of "
            f"{', '.join(BUILTIN_SUITES)} or a .toml/.yaml probe file, or leave it out"
        )
    return names

"""``verify_card``: check the results a model card claims by re-running them.

Reads the claims of a card (its ``model-index`` and ``.eval_results`` entries: ``claims``),
evaluates the model once per claimed dataset, config and split through ``cardgen.evaluate``
(``run``), recomputes each claimed metric the way its id and arguments define it (``measure``)
and gives each claim a verdict: consistent, contradicted, ambiguous or not checkable, with the
reason (``report``, which also writes ``verification.json``).

This package sits at the top with ``gate`` and ``compare``: it may import ``evaluation``,
``cards`` (reading cards, ``.eval_results`` and metric conventions), ``data``, ``tasks``,
``results`` and ``trust``; nothing below it imports it (``display`` only for type hints).
"""

from __future__ import annotations

from cardgen.verify.claims import Claim, default_card, read_claims
from cardgen.verify.report import (
    VERDICTS,
    VERIFICATION_FILE,
    VERIFICATION_SCHEMA,
    ClaimResult,
    DatasetUsed,
    VerifyReport,
)
from cardgen.verify.run import DEFAULT_OUTPUT, verify_card

__all__ = [
    "DEFAULT_OUTPUT",
    "VERDICTS",
    "VERIFICATION_FILE",
    "VERIFICATION_SCHEMA",
    "Claim",
    "ClaimResult",
    "DatasetUsed",
    "VerifyReport",
    "default_card",
    "read_claims",
    "verify_card",
]

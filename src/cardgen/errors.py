"""Errors cardgen raises on bad input.

Each subclass also inherits the builtin it means, so callers can catch either. Messages say
what went wrong, what was found and how to fix it; the CLI prints them as one line and exits 2.
"""

from __future__ import annotations


class CardgenError(Exception):
    """Base class of every error cardgen raises on purpose."""


class DataError(CardgenError, ValueError):
    """The dataset is missing, unreadable or malformed."""


class LabelError(CardgenError, ValueError):
    """Model labels and dataset labels cannot be aligned."""


class ModelError(CardgenError, ValueError):
    """The model is missing, corrupt, unsupported or refused for safety."""


class ResultsError(CardgenError, ValueError):
    """A results file is missing, corrupt or of an unknown schema version."""


class ProbeError(CardgenError, ValueError):
    """A bias probe, probe file or lexicon is malformed or does not fit the model."""


class UsageError(CardgenError, ValueError):
    """An option or combination of options is invalid."""


class OutputError(CardgenError, OSError):
    """An output location cannot be written."""


class CardError(CardgenError, ValueError):
    """A model card is missing or unreadable, its template fails to render, it cannot be
    refreshed, or its metadata would be refused by the Hub."""


class HubError(CardgenError, ConnectionError):
    """The Hugging Face Hub cannot be reached or refused a request."""


EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_INPUT_ERROR = 2
EXIT_INTERNAL_ERROR = 70  # EX_SOFTWARE in sysexits.h: a bug in cardgen
EXIT_INTERRUPTED = 130

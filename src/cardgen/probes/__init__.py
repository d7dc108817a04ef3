"""Bias probes: neutral templates x lexicons, measured on any text classifier.

A probe fills each of its templates ("This film was filmed in {COUNTRY}.") with every term of
one lexicon and compares the model's probability of a target label across terms. Nothing here
imports torch until a model path has to be loaded.
"""

from __future__ import annotations

from cardgen.probes._files import load_probe_file, resolve_probes
from cardgen.probes._lexicons import Lexicon, builtin_lexicons, load_lexicon, parse_lexicon
from cardgen.probes._measures import summarize_probe
from cardgen.probes._probe import (
    BUILTIN_SUITES,
    Probe,
    builtin_probe,
    template_probe,
)
from cardgen.probes._runner import (
    PROBE_FILLS_FILE,
    PROBES_FILE,
    ProbeRun,
    checked_target,
    default_target,
    measure_probes,
    probe_labels,
    run_probes,
    write_probe_files,
)

__all__ = [
    "BUILTIN_SUITES",
    "PROBES_FILE",
    "PROBE_FILLS_FILE",
    "Lexicon",
    "Probe",
    "ProbeRun",
    "builtin_lexicons",
    "checked_target",
    "builtin_probe",
    "default_target",
    "load_lexicon",
    "load_probe_file",
    "measure_probes",
    "parse_lexicon",
    "probe_labels",
    "resolve_probes",
    "run_probes",
    "summarize_probe",
    "template_probe",
    "write_probe_files",
]

"""The gate's report: rule outcomes, JUnit XML and the GitHub step summary.

Every string in a report may come from a results file (labels, paths, sources), so the XML
drops characters XML cannot hold and the Markdown escapes what would format or link.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from xml.etree import ElementTree

from cardgen.errors import OutputError
from cardgen.gate.rules import Rule
from cardgen.results.settings import SettingDifference, differences_line
from cardgen.trust.atomic import write_text
from cardgen.trust.untrusted import quote

COLUMNS = ("verdict", "rule", "value", "baseline", "delta", "95% CI", "p")  # RuleOutcome.cells
Verdict = Literal["pass", "warn", "fail"]

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


@dataclass
class RuleOutcome:
    """How one rule fared; ``ci`` is the 95% CI of the value (min/max) or of the delta."""

    rule: Rule
    value: float
    baseline: float | None
    delta: float | None
    ci: tuple[float, float] | None
    p_value: float | None
    test: str | None
    verdict: Verdict
    message: str

    def cells(self) -> tuple[str, ...]:
        """The row of the gate table, in COLUMNS order."""
        sign = "+" if self.rule.kind == "max-drop" else ""
        ci = f"[{self.ci[0]:{sign}.3f},{self.ci[1]:{sign}.3f}]" if self.ci else "-"
        return (
            self.verdict,
            str(self.rule),
            f"{self.value:.4f}",
            f"{self.baseline:.4f}" if self.baseline is not None else "-",
            f"{self.delta:+.4f}" if self.delta is not None else "-",
            ci,
            f"{self.p_value:.2g}" if self.p_value is not None else "-",
        )


@dataclass
class GateReport:
    """Every rule's outcome; the gate passed when none failed ("warn" passes).

    ``different_data`` says the runs were evaluated on different data (allowed explicitly),
    so drops compare values of different datasets. ``differences`` are the settings and
    provenance on which the runs differ (values in baseline, current order; see
    ``results.settings``), empty without a baseline run.
    """

    current: str
    baseline: str | None
    comparison: str
    alpha: float
    strict: bool
    outcomes: list[RuleOutcome]
    warnings: list[str] = field(default_factory=list)
    different_data: bool = False
    differences: list[SettingDifference] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> list[RuleOutcome]:
        return [o for o in self.outcomes if o.verdict == "fail"]

    @property
    def headline(self) -> str:
        """``gate passed: 4 rules`` or ``gate FAILED: 1 of 4 rules``."""
        total = len(self.outcomes)
        noun = "rule" if total == 1 else "rules"
        if self.passed:
            return f"gate passed: {total} {noun}"
        return f"gate FAILED: {len(self.failures)} of {total} {noun}"


# --- JUnit XML -----------------------------------------------------------------------------


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def junit_xml(report: GateReport) -> str:
    """The report as JUnit XML: one test case per rule, failed rules as ``<failure>``."""
    counts = {
        "tests": str(len(report.outcomes)),
        "failures": str(len(report.failures)),
        "errors": "0",
        "skipped": "0",
    }
    root = ElementTree.Element("testsuites", {"name": "cardgen gate", **counts})
    suite = ElementTree.SubElement(root, "testsuite", {"name": "cardgen gate", **counts})
    properties = ElementTree.SubElement(suite, "properties")
    for key, value in (
        ("current", report.current),
        ("baseline", report.baseline or ""),
        ("comparison", report.comparison),
        ("alpha", f"{report.alpha:g}"),
        ("strict", str(report.strict).lower()),
        ("different_data", str(report.different_data).lower()),
    ):
        ElementTree.SubElement(properties, "property", {"name": key, "value": _xml(value)})
    for outcome in report.outcomes:
        case = ElementTree.SubElement(
            suite, "testcase", {"classname": "cardgen.gate", "name": _xml(str(outcome.rule))}
        )
        details = "\n".join(f"{c}: {v}" for c, v in zip(COLUMNS, outcome.cells(), strict=True))
        if outcome.test:
            details += f"\ntest: {outcome.test}"
        if outcome.verdict == "fail":
            failure = ElementTree.SubElement(
                case, "failure", {"message": _xml(outcome.message), "type": "GateFailure"}
            )
            failure.text = _xml(details)
        else:
            ElementTree.SubElement(case, "system-out").text = _xml(f"{outcome.message}\n{details}")
    if report.warnings:
        ElementTree.SubElement(suite, "system-err").text = _xml("\n".join(report.warnings))
    ElementTree.indent(root)
    body = ElementTree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def check_output_file(path: str | os.PathLike[str], *, what: str) -> Path:
    """``path`` when a file can be written there; OutputError now, before any work, when it
    names a directory or something else than a file, or its folder is not writable."""
    target = Path(path)
    text = os.fspath(path)
    try:
        if not text or "\x00" in text:
            raise OutputError(f"{what} {quote(text)} is not a usable file name")
        if target.is_dir():
            raise OutputError(
                f"{what} {target} is a directory; name a file in it, e.g. {target / 'gate.xml'}"
            )
        if target.exists() and not target.is_file():
            raise OutputError(f"{what} {target} exists and is not a regular file; name a file")
        folder = target.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir():
            raise OutputError(f"{what} {target}: {folder} is not a directory; choose another path")
        if folder == target.parent:
            with tempfile.TemporaryFile(dir=folder):
                pass
        elif not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied")
        if target.exists() and not os.access(target, os.W_OK):
            raise PermissionError(13, "Permission denied")
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(
            f"cannot write {what} {target}: {exc.strerror or exc}; choose a writable location"
        ) from None
    return target


def write_junit(report: GateReport, path: str | os.PathLike[str]) -> Path:
    """Write :func:`junit_xml` to ``path`` atomically; OutputError when it cannot."""
    target = check_output_file(path, what="JUnit report")
    try:
        write_text(target, junit_xml(report))
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(
            f"cannot write JUnit report {target}: {exc.strerror or exc}; choose a writable location"
        ) from None
    return target


# --- GitHub step summary -------------------------------------------------------------------


def _md(text: str) -> str:
    """Untrusted text for one line of Markdown: no line breaks, HTML, tables or links."""
    text = _CONTROL.sub(" ", str(text))
    for old, new in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|")):
        text = text.replace(old, new)
    return text.replace("`", "\\`").replace("](", "]\\(")


def _code(text: str) -> str:
    """Untrusted text as an inline code span, whatever backticks it holds."""
    text = _CONTROL.sub(" ", str(text))
    run = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (run + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def summary_markdown(report: GateReport) -> str:
    """A Markdown section for ``$GITHUB_STEP_SUMMARY``: headline, rule table, notes."""
    icon = "✅" if report.passed else "❌"
    against = f" against {_code(report.baseline)}" if report.baseline else ""
    lines = [
        f"### {icon} cardgen {report.headline}",
        "",
        f"{_code(report.current)}{against}: {_md(report.comparison)}.",
        "",
        *differences_markdown(report.differences),
    ]
    if report.different_data:
        lines += ["> **Different data:** the runs were evaluated on different datasets.", ""]
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for outcome in report.outcomes:
        cells = [_md(c) for c in outcome.cells()]
        cells[0] = {"pass": "pass", "warn": "⚠️ warn", "fail": "❌ **fail**"}[outcome.verdict]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [o for o in report.outcomes if o.verdict != "pass"]
    if notes or report.warnings:
        lines.append("")
    lines += [f"- **{o.verdict}** {_code(str(o.rule))}: {_md(o.message)}" for o in notes]
    lines += [f"- warning: {_md(w)}" for w in report.warnings]
    return "\n".join(lines) + "\n\n"


def differences_markdown(differences: list[SettingDifference]) -> list[str]:
    """Lines of Markdown saying what differs between the baseline and the current run (see
    ``results.settings``), and which of it can explain a change; none when nothing does."""
    line = differences_line(differences)
    if line is None:
        return []
    lines = [
        f"**What differs between the runs.** {_md(line)}",
        "",
        "| setting | baseline | current | can explain a change |",
        "|---|---|---|---|",
    ]
    for d in differences:
        cells = [_md(d.setting), *(_md(v) if v is not None else "-" for v in d.values)]
        cells.append(f"{'**yes**' if d.explains else 'no'}: {_md(d.effect)}")
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def append_step_summary(report: GateReport, path: str | os.PathLike[str]) -> None:
    """Append :func:`summary_markdown` to the file at ``path`` as UTF-8 bytes.

    The file is never read or decoded (other steps may have written anything to it).
    OutputError when it cannot be appended to; the CLI turns that into a warning.
    """
    target = Path(path)
    data = summary_markdown(report).encode("utf-8")
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        if "\x00" in os.fspath(path):
            raise OutputError(f"step summary path {quote(os.fspath(path))} is not a file name")
        if target.exists():
            mode = target.stat().st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISCHR(mode)):
                raise OutputError(f"step summary {target} is not a regular file")
        fd = os.open(target, flags, 0o644)
        with os.fdopen(fd, "ab") as handle:
            handle.write(data)
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(
            f"cannot append to step summary {target}: {exc.strerror or exc}"
        ) from None

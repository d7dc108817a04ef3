"""Jinja rendering of card templates: sandboxed, strict about undefined names, clear errors.

The default templates ship in the ``cardgen.templates`` package; a user template may include
them (``{% include "partials/evaluation.md.j2" %}``).

Every value a template prints is untrusted text (labels, model ids, file names…), so every
``{{ … }}`` is escaped for Markdown on its way out: one line, no HTML tag, no link, no table
break. Text meant as Markdown (the front matter, a person's ``--section`` files) is wrapped in
``Trusted`` by cardgen; filters give the other contexts: ``code`` (a code span), ``cell`` (a
table cell), ``url`` (a link target), ``pystr`` (a Python string literal in a code block).
"""

from __future__ import annotations

import functools
import json
import math
import re
import urllib.parse
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from cardgen.errors import CardError
from cardgen.trust.untrusted import quote

DEFAULT_TEMPLATE = "model_card.md.j2"
MAX_TEMPLATE_BYTES = 2**20
MAX_REPEAT = 1_000_000  # longest str / list a template may build with `*`
MAX_EXPONENT = 1_000

# Characters that mean something in inline Markdown (or open HTML) wherever they stand.
_SPECIAL = re.compile(r"[\\`*\[\]<|&~#]")
_UNDERSCORES = re.compile(r"_+")
# A line that starts like these would become a quote, list item, rule or heading underline.
_LEADING = re.compile(r"^(\s*)(>|[-+](?=\s|$)|[-=](?=[-=\s]*$)|\d{1,9}(?=[.)](?:\s|$)))")
# Controls, and invisible characters that reorder or hide text (bidi, zero-width, BOM).
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]"
)


class Trusted(str):
    """Text cardgen vouches for as Markdown: printed as it is. Any operation on it gives a
    plain ``str`` again, which is escaped when printed."""


def default_templates_dir() -> Path:
    """The directory holding the default templates (``templates/`` of the source tree)."""
    return Path(str(resources.files("cardgen.templates")))


def render_template(template: str | Path | None, context: Mapping[str, Any]) -> str:
    """Render ``template`` (None: the default one) with ``context``; raise CardError on errors."""
    defaults = default_templates_dir()
    if template is None:
        directory, name, label = defaults, DEFAULT_TEMPLATE, f"default template {DEFAULT_TEMPLATE}"
    else:
        path = Path(template)
        _check_template_file(path)
        directory, name, label = path.parent, path.name, str(path)
    env = _default_environment() if template is None else _environment(directory, defaults)
    try:
        text = env.get_template(name).render(context)
    except jinja2.TemplateNotFound as exc:
        names = " or ".join(map(quote, exc.templates)) if exc.templates else quote(exc.name)
        raise CardError(
            f"{_where(exc.__traceback__, defaults, label)}: {exc.name} not found: no template "
            f"{names} in {directory} or in cardgen's default templates"
        ) from exc
    except jinja2.TemplateSyntaxError as exc:
        where = _template_name(exc.filename, defaults) or label
        raise CardError(f"{where}, line {exc.lineno}: {exc.message}") from exc
    except jinja2.UndefinedError as exc:
        names = ", ".join(sorted(context))
        raise CardError(
            f"{_where(exc.__traceback__, defaults, label)}: {exc.message}; "
            f"a template can use: {names}"
        ) from exc
    except jinja2.TemplateError as exc:  # sandbox violations
        raise CardError(f"{_where(exc.__traceback__, defaults, label)}: {exc}") from exc
    except Exception as exc:  # a user template can raise anything its expressions raise
        if template is None:
            raise  # a bug in the default template, not bad input
        message = quote(f"{type(exc).__name__}: {exc}", limit=300)[1:-1]
        raise CardError(f"{_where(exc.__traceback__, defaults, label)}: {message}") from exc
    return _tidy(text)


def _environment(directory: Path, defaults: Path) -> jinja2.Environment:
    """A sandbox that loads templates from ``directory``, then from cardgen's defaults."""
    loaders = [jinja2.FileSystemLoader(directory)]
    if directory != defaults:
        loaders.append(jinja2.FileSystemLoader(defaults))
    env = _CardEnvironment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        num=_num, pct=_pct, ci=_ci, cell=cell, oneline=_oneline, code=code, url=url, pystr=_pystr
    )
    return env


@functools.cache
def _default_environment() -> jinja2.Environment:
    """The environment of the default template, built (and its templates compiled) once."""
    defaults = default_templates_dir()
    return _environment(defaults, defaults)


def _check_template_file(path: Path) -> None:
    try:
        if path.is_dir():
            raise CardError(f"template {path} is a directory; pass a Jinja template file")
        if not path.is_file():
            raise CardError(f"template {path} does not exist")
        size = path.stat().st_size
    except OSError as exc:
        raise CardError(f"cannot read template {path}: {exc.strerror or exc}") from exc
    if size > MAX_TEMPLATE_BYTES:
        raise CardError(
            f"template {path} is {size:,} bytes, over cardgen's limit of {MAX_TEMPLATE_BYTES:,}"
        )


class _CardEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, with ``*`` and ``**`` bounded so that a template cannot ask for gigabytes."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
            raise jinja2.sandbox.SecurityError(f"exponent {right} is over {MAX_EXPONENT}")
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                sequence = isinstance(seq, (str, list, tuple)) and isinstance(count, int)
                if sequence and len(seq) * count > MAX_REPEAT:
                    raise jinja2.sandbox.SecurityError(
                        f"repeating a sequence {count} times is over {MAX_REPEAT:,} items"
                    )
        return super().call_binop(context, operator, left, right)


def _where(tb: TracebackType | None, defaults: Path, label: str) -> str:
    """``template, line N`` of the innermost template frame of a rendering error."""
    found = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not filename.endswith(".py") and not filename.startswith("<"):
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    if found is None:
        return label
    return f"{_template_name(found[0], defaults) or found[0]}, line {found[1]}"


def _template_name(filename: str | None, defaults: Path) -> str | None:
    if filename is None:
        return None
    path = Path(filename)
    if path.is_relative_to(defaults):
        return f"default template {path.relative_to(defaults).as_posix()}"
    return filename


def _tidy(text: str) -> str:
    """No trailing spaces, at most one blank line in a row, one final newline."""
    text = re.sub(r"[ \t]+$", "", text, flags=re.M)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"


def _finalize(value: Any) -> Any:
    """What ``{{ value }}`` prints: trusted text and numbers as they are, the rest escaped."""
    if isinstance(value, (Trusted, bool, int, float)):
        return value
    return Trusted(escape_markdown(value))


def _visible(value: Any) -> str:
    """``value`` on one line, with controls and invisible characters shown as ``\\uXXXX``."""
    text = re.sub(r"\s+", " ", str(value))
    return _INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def escape_markdown(value: Any) -> str:
    """``value`` as literal inline Markdown text: one line, and no character in it opens a tag,
    a link, emphasis, a code span, a table cell or (at the start) a block."""
    text = _SPECIAL.sub(lambda m: "\\" + m.group(), _visible(value))
    text = _UNDERSCORES.sub(_escape_underscores, text)
    return _LEADING.sub(_escape_leading, text)


def _escape_leading(match: re.Match[str]) -> str:
    """``1. x`` -> ``1\\. x``; ``> x``, ``- x``, ``===`` -> ``\\> x``, ``\\- x``, ``\\===``."""
    space, text = match.groups()
    return space + (text + "\\" if text.isdigit() else "\\" + text)


def _escape_underscores(match: re.Match[str]) -> str:
    """Underscores inside a word (``max_iter``) cannot start emphasis; others are escaped."""
    text, start, end = match.string, match.start(), match.end()
    inside = start > 0 and text[start - 1].isalnum() and end < len(text) and text[end].isalnum()
    return match.group() if inside else "\\_" * (end - start)


def cell(value: Any) -> Trusted:
    """A value fit for a Markdown table cell: floats to 4 significant digits, None as a dash."""
    if isinstance(value, float):
        return Trusted(f"{value:.4g}")
    if value is None:
        return Trusted("–")
    if isinstance(value, (bool, int)):
        return Trusted(str(value))
    return Trusted(escape_markdown(value))


def code(value: Any) -> Trusted:
    """``value`` as an inline code span, fenced with more backticks than it holds."""
    if value is None or value == "":
        return Trusted("–")
    text = _visible(value)
    fence = "`" * (1 + max((len(run) for run in re.findall("`+", text)), default=0))
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return Trusted(f"{fence}{pad}{text}{pad}{fence}")


def url(value: Any) -> Trusted:
    """A link target: an http(s) URL or a relative path, percent-encoded; never a script."""
    text = str(value)
    scheme = urllib.parse.urlsplit(text).scheme.lower() if ":" in text else ""
    encoded = urllib.parse.quote(text, safe="/:@-._~!$&'*+,;=")
    if scheme in ("http", "https"):
        return Trusted(encoded)
    encoded = encoded.replace(":", "%3A").lstrip("/")
    return Trusted(encoded or "#")


def _pystr(value: Any) -> Trusted:
    """A Python string literal (ASCII, one line), for code examples in the card."""
    return Trusted(json.dumps(str(value)))


def _oneline(text: Any) -> str:
    return " ".join(str(text).split())


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _num(value: Any, digits: int = 4) -> Any:
    """A number with ``digits`` decimals; integers as they are; None as a dash."""
    if value is None:
        return Trusted("–")
    if not _is_number(value):
        return value  # escaped when printed
    if isinstance(value, int):
        return Trusted(str(value))
    return Trusted(f"{value:.{digits}f}")


def _pct(value: Any, digits: int = 1) -> Any:
    if value is None:
        return Trusted("–")
    if not _is_number(value) or not math.isfinite(value):
        return value
    return Trusted(f"{100 * value:.{digits}f}%")


def _ci(metric: Any, digits: int = 4) -> str:
    """``[low, high]`` of a metric with a CI, else an empty string."""
    if isinstance(metric, Mapping):
        low, high = metric.get("ci_low"), metric.get("ci_high")
    else:
        low, high = getattr(metric, "ci_low", None), getattr(metric, "ci_high", None)
    if not _is_number(low) or not _is_number(high):
        return ""
    return Trusted(f"[{low:.{digits}f}, {high:.{digits}f}]")

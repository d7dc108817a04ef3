"""Jinja rendering of card templates: sandboxed, strict about undefined names, clear errors.

The default templates ship in the ``cardgen.templates`` package; a user template may include
them (``{% include "partials/evaluation.md.j2" %}``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .errors import CardError

DEFAULT_TEMPLATE = "model_card.md.j2"


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
        if not path.is_file():
            raise CardError(f"template {path} does not exist")
        directory, name, label = path.parent, path.name, str(path)
    loaders = [jinja2.FileSystemLoader(directory)]
    if directory != defaults:
        loaders.append(jinja2.FileSystemLoader(defaults))
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(num=_num, pct=_pct, ci=_ci, cell=_cell, oneline=_oneline)
    try:
        text = env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as exc:
        where = _template_name(exc.filename, defaults) or label
        raise CardError(f"{where}, line {exc.lineno}: {exc.message}") from exc
    except jinja2.UndefinedError as exc:
        names = ", ".join(sorted(context))
        raise CardError(
            f"{_where(exc.__traceback__, defaults, label)}: {exc.message}; "
            f"a template can use: {names}"
        ) from exc
    except jinja2.TemplateError as exc:  # sandbox violations, missing includes
        raise CardError(f"{_where(exc.__traceback__, defaults, label)}: {exc}") from exc
    except Exception as exc:  # a user template can raise anything its expressions raise
        if template is None:
            raise  # a bug in the default template, not bad input
        message = f"{type(exc).__name__}: {exc}"
        raise CardError(f"{_where(exc.__traceback__, defaults, label)}: {message}") from exc
    return _tidy(text)


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


def _num(value: Any, digits: int = 4) -> str:
    """A number with ``digits`` decimals; integers as they are; None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def _pct(value: Any, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}%"


def _ci(metric: Any, digits: int = 4) -> str:
    """``[low, high]`` of a metric with a CI, else an empty string."""
    if isinstance(metric, Mapping):
        low, high = metric.get("ci_low"), metric.get("ci_high")
    else:
        low, high = getattr(metric, "ci_low", None), getattr(metric, "ci_high", None)
    if low is None or high is None:
        return ""
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def _cell(value: Any) -> str:
    """A value fit for a Markdown table cell: floats to 4 significant digits, pipes escaped."""
    text = f"{value:.4g}" if isinstance(value, float) else "–" if value is None else str(value)
    return _oneline(text).replace("|", "\\|")


def _oneline(text: Any) -> str:
    return " ".join(str(text).split())

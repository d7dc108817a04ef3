"""What a card brings along: the run's images, copied beside it, and a standalone HTML page.

Image names come from the results file, so each must stay inside the run directory (and,
copied, inside the card's). The card holds text from datasets, models and files, and raw HTML
(a person's sections, a scikit-learn diagram), so the HTML page's body goes through the
``nh3`` sanitizer with an allow-list of what a card needs: no script, no style, no event
handler, no ``javascript:``.
"""

from __future__ import annotations

import html
import re
import urllib.parse
import warnings
from collections.abc import Mapping
from pathlib import Path

import nh3
from markdown_it import MarkdownIt

from cardgen.cards.sections import split_front_matter
from cardgen.errors import CardError, OutputError, ResultsError
from cardgen.results.schema import EvalResults
from cardgen.trust.atomic import atomic_open
from cardgen.trust.untrusted import LimitError, check_output_file, inside, open_regular, quote

MAX_IMAGE_BYTES = 64 * 2**20
GENERATOR = '<meta name="generator" content="cardgen">'
STYLE = """
body { font: 16px/1.5 system-ui, sans-serif; color: #1f2328; margin: 0; }
main { max-width: 960px; margin: 2rem auto; padding: 0 1rem; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #d0d7de; padding: 0.3rem 0.6rem; }
code, pre { background: #f6f8fa; border-radius: 4px; }
pre { padding: 0.8rem; overflow-x: auto; }
img { max-width: 100%; }
blockquote { border-left: 4px solid #d0d7de; margin: 0; padding: 0 1rem; color: #59636e; }
""".strip()
TAGS = {
    *("h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "blockquote", "pre", "code"),
    *("a", "img", "em", "strong", "b", "i", "del", "s", "sub", "sup", "kbd", "span", "div"),
    *("ul", "ol", "li", "dl", "dt", "dd", "details", "summary"),
    *("table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption"),
}
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "th": {"style", "align", "colspan", "rowspan"},
    "td": {"style", "align", "colspan", "rowspan"},
    "ol": {"start"},
    "details": {"open"},
}
LINK_SCHEMES = {"http", "https", "mailto"}
_BACKSLASH_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def card_to_html(card: str, *, title: str | None = None) -> str:
    """Render the card body (CommonMark + tables), sanitized, and show its YAML metadata folded."""
    front, body = split_front_matter(card)
    parser = MarkdownIt("commonmark", {"html": True}).enable("table")
    content = parser.render(body)
    if title is None:
        heading = next((line[2:] for line in body.splitlines() if line.startswith("# ")), None)
        title = _BACKSLASH_ESCAPE.sub(r"\1", heading) if heading else "Model card"
    metadata = (
        "<details><summary>Metadata (YAML front matter)</summary>\n"
        f"<pre><code>{html.escape(front)}</code></pre>\n</details>\n"
        if front
        else ""
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"{GENERATOR}\n<title>{html.escape(title)}</title>\n<style>\n{STYLE}\n</style>\n"
        f"</head>\n<body>\n<main>\n{sanitize_html(metadata + content)}</main>\n</body>\n</html>\n"
    )


def sanitize_html(fragment: str) -> str:
    """``fragment`` with only the allowed tags and attributes, links to http(s)/mailto or
    relative paths, and images from relative paths only."""
    return nh3.clean(
        fragment,
        tags=TAGS,
        attributes=ATTRIBUTES,
        attribute_filter=_filter_attribute,
        url_schemes=LINK_SCHEMES,
        filter_style_properties={"text-align"},
        strip_comments=True,
        link_rel="noopener noreferrer nofollow",
    )


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "src":
        return value if _relative(value) else None
    if attribute == "href":
        return value if _relative(value) or _scheme(value) in LINK_SCHEMES else None
    return value


def _scheme(value: str) -> str:
    try:
        return urllib.parse.urlsplit(value.strip()).scheme.lower()
    except ValueError:
        return "invalid"


def _relative(value: str) -> bool:
    """A path on the same page or beside it: no scheme, no host, no absolute path."""
    text = value.strip()
    first = re.split(r"[/?#]", text, maxsplit=1)[0]
    return bool(text) and not text.startswith(("/", "\\")) and ":" not in first


def card_images(results: EvalResults, run_dir: Path | None) -> dict[str, Path]:
    """Card-relative paths of the run's PNGs that exist: plots and probe plots.

    Every file name in the results (``files`` and probe plots) comes from the results file, so
    each must be a plain relative path that stays inside the run directory; ResultsError
    otherwise, before anything is read.
    """
    listed = dict(results.files)
    for name, probe in results.probes.items():
        if probe.plot is not None:
            listed[f"probe:{name}"] = probe.plot
    found = {}
    for name, file in listed.items():
        what = f"the plot of probe {quote(name[6:])}" if name.startswith("probe:") else "file"
        try:
            path = inside(run_dir or Path.cwd(), file, what=what)
        except LimitError as exc:
            raise ResultsError(
                f"the results file is not usable: {exc}; re-run `cardgen evaluate` to regenerate it"
            ) from None
        if not file.endswith(".png"):
            if name.startswith("probe:"):
                raise ResultsError(
                    f"{what} is {quote(file)}, not a .png file name; re-run `cardgen evaluate` "
                    "to regenerate the results"
                )
            continue
        if run_dir is not None and not path.is_file():
            warnings.warn(f"{path} is listed in the results but missing", stacklevel=3)
            continue
        found[name] = Path(file)
    return found


def image_names(images: Mapping[str, Path], card: Path | None) -> dict[str, Path]:
    """Each image's path beside ``card``: its name in the run beside a README card (or none),
    else prefixed with the card's file name (``other.md``: ``other.confusion_matrix.png``), so
    that cards of several runs in one folder keep their own images."""
    if card is None or card.stem.casefold() == "readme":
        return dict(images)
    return {name: file.with_name(f"{card.stem}.{file.name}") for name, file in images.items()}


def image_sources(
    images: Mapping[str, Path], names: Mapping[str, Path], run_dir: Path | None
) -> dict[str, Path]:
    """Where each image beside the card (``names``) comes from in the run (``images``);
    nothing is copied for results passed as an object."""
    if run_dir is None:
        return {}
    return {names[name].as_posix(): run_dir / file for name, file in images.items()}


def copy_images(images: Mapping[str, Path], run_dir: Path | None, destination: Path) -> None:
    """Copy the run's images beside the card, each to the same relative path; every target is
    checked before the first is written (no link, FIFO or directory stands there), and each
    image is read only as a regular file inside ``run_dir``."""
    targets = {}
    for relative, source in images.items():
        try:
            target = inside(destination, relative, what="image")
        except LimitError as exc:
            raise CardError(
                f"cannot copy the run's images: {exc}; choose another --output"
            ) from None
        if target.is_dir():
            raise OutputError(f"cannot copy image {relative} to {target}: it is a directory")
        if not (target.exists() and target.resolve() == source.resolve()):
            check_output_file(target, error=OutputError, what="image")
            targets[target] = source
    for target, source in targets.items():
        with open_regular(
            source,
            error=ResultsError,
            what="image",
            max_bytes=MAX_IMAGE_BYTES,
            base=run_dir or source.parent,
        ) as handle:
            try:
                data = handle.read(MAX_IMAGE_BYTES + 1)
            except OSError as exc:
                raise ResultsError(f"cannot read image {source}: {exc.strerror or exc}") from exc
        with atomic_open(target, "wb") as handle:
            handle.write(data)

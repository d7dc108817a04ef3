"""A Markdown card as a standalone HTML page, for reading it outside the Hub."""

from __future__ import annotations

import html

from markdown_it import MarkdownIt

from .sections import split_front_matter

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


def card_to_html(card: str, *, title: str | None = None) -> str:
    """Render the card body (CommonMark + tables) and show its YAML metadata folded.

    Raw HTML in the card (comments, a scikit-learn diagram) is kept as it is.
    """
    front, body = split_front_matter(card)
    parser = MarkdownIt("commonmark", {"html": True}).enable("table")
    content = parser.render(body)
    if title is None:
        heading = next((line[2:] for line in body.splitlines() if line.startswith("# ")), None)
        title = heading or "Model card"
    metadata = (
        "<details><summary>Metadata (YAML front matter)</summary>\n"
        f"<pre><code>{html.escape(front)}</code></pre>\n</details>\n"
        if front
        else ""
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>\n{STYLE}\n</style>\n</head>\n"
        f"<body>\n<main>\n{metadata}{content}</main>\n</body>\n</html>\n"
    )

"""A card's YAML front matter: read (refusing repeated keys), merged and edited in place.

cardgen owns only the values it sets. ``update_front_matter`` rewrites those values where they
stand and keeps every other line of the person's YAML byte for byte: comments, quotes, flow
lists, ``~`` nulls, the order of keys. An item added to a list goes after its last item, in
the list's own style; a key added goes after the last key of its mapping (but before a
``model-index`` that ends the front matter).
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import yaml

from cardgen.errors import CardError
from cardgen.trust.untrusted import compose_yaml, parse_yaml, quote

_STR = "tag:yaml.org,2002:str"
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*(?:\r?\n|\Z)", re.S | re.M)
_Edit = tuple[int, int, str]  # replace text[start:end] with the string


def split_front_matter(text: str) -> tuple[str | None, str]:
    """``(yaml, body)`` of a card; ``yaml`` is None when the card has no front matter."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return None, text
    return match.group(1), text[match.end() :]


def parse_metadata(
    text: str, *, source: str, fix: str = "fix it or pass --overwrite"
) -> dict[str, Any]:
    """The YAML front matter of ``source`` as a dict with string keys; CardError otherwise.

    The front matter is untrusted: it is parsed with cardgen's bounded YAML loader. A key
    repeated in one mapping (YAML would keep one value and drop the other without a word; the
    Hub refuses such a card) is an error naming the key and its lines in the card.
    """
    what = f"the YAML front matter of {source}"
    try:
        node = compose_yaml(text, source=what, error=CardError) if text.strip() else None
        data = parse_yaml(text, source=what, error=CardError) if text.strip() else {}
    except CardError as exc:
        raise CardError(f"{exc}; {fix}") from None
    _refuse_repeated_keys(node, what)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CardError(
            f"{what} is a {type(data).__name__} ({quote(data)}), not a mapping of keys to "
            f"values; {fix}"
        )
    for key in data:
        if not isinstance(key, str):
            raise CardError(
                f"{what} has the key {quote(key)} of type {type(key).__name__}; metadata keys "
                f"must be strings; {fix}"
            )
    return data


def check_unique_keys(text: str, *, source: str) -> None:
    """CardError naming a key that ``text``, the YAML front matter of ``source``, repeats."""
    what = f"the YAML front matter of {source}"
    _refuse_repeated_keys(compose_yaml(text, source=what, error=CardError), what)


def _refuse_repeated_keys(root: yaml.Node | None, what: str) -> None:
    """CardError naming the first key that a mapping of ``root`` repeats (lines of the card,
    whose front matter starts on its line 2)."""
    seen: set[int] = set()
    todo = [root] if root is not None else []
    while todo:
        node = todo.pop()
        if id(node) in seen or isinstance(node, yaml.ScalarNode):
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    line = key.start_mark.line + 2
                    if (key.tag, key.value) in first:
                        raise CardError(
                            f"{what} repeats the key {quote(key.value)} on line {line} (first "
                            f"on line {first[key.tag, key.value]}): YAML keeps only one of the "
                            "two values and the Hub refuses such a card; remove one, then run "
                            "again"
                        )
                    first[key.tag, key.value] = line
                todo += [key, value]
        elif isinstance(node, yaml.SequenceNode):
            todo += node.value


def dump_metadata(metadata: Any) -> str:
    """YAML the way huggingface_hub writes card metadata (keys in their order)."""
    from huggingface_hub.utils import yaml_dump

    return str(yaml_dump(metadata, sort_keys=False)).strip()


def merge_metadata(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Keys of ``new`` win, except that lists (tags, datasets…) keep the items ``old`` had.

    ``model-index`` is merged (see ``merge_model_index``) and stays last; keys only ``old`` has
    come after those of ``new``.
    """
    merged = {}
    for key, value in new.items():
        previous = old.get(key)
        if key == "model-index":
            merged[key] = merge_model_index(previous, value)
        elif isinstance(value, list) and isinstance(previous, list):
            merged[key] = previous + [item for item in value if item not in previous]
        else:
            merged[key] = value
    merged.update({key: value for key, value in old.items() if key not in new})
    if "model-index" in merged:
        merged["model-index"] = merged.pop("model-index")
    return merged


def merge_model_index(old: Any, new: Any) -> Any:
    """``new``'s results put into ``old``: a result for the same task, dataset, config and
    split is replaced (keeping metrics of other types that ``old`` had), others are added, and
    results for other datasets or splits stay. ``new``'s entries go into the entry of the same
    name, or into ``old``'s only entry."""
    if not isinstance(old, list) or not old or not isinstance(new, list):
        return new
    merged = [dict(entry) if isinstance(entry, dict) else entry for entry in old]
    for entry in new:
        if not isinstance(entry, dict):
            continue
        entries = [item for item in merged if isinstance(item, dict)]
        same = [item for item in entries if item.get("name") == entry.get("name")]
        target = same[0] if same else entries[0] if len(entries) == 1 else None
        if target is None:
            merged.append(entry)
            continue
        found = target.get("results")
        results = list(found) if isinstance(found, list) else []
        for result in entry.get("results") or []:
            key = _result_key(result)
            index = next((i for i, r in enumerate(results) if _result_key(r) == key), None)
            if index is None:
                results.append(result)
                continue
            kept = results[index].get("metrics") if isinstance(results[index], dict) else None
            types = {_metric_key(m) for m in result.get("metrics") or []}
            others = [m for m in kept or [] if _metric_key(m) not in types]
            results[index] = {**result, "metrics": [*(result.get("metrics") or []), *others]}
        target["results"] = results
    return merged


def _metric_key(metric: Any) -> str:
    if not isinstance(metric, dict):
        return repr(metric)
    return repr((metric.get("type"), metric.get("args")))


def _result_key(result: Any) -> tuple[Any, ...] | None:
    if not isinstance(result, dict):
        return None
    task, data = result.get("task"), result.get("dataset")
    task = task if isinstance(task, dict) else {}
    data = data if isinstance(data, dict) else {}
    return (task.get("type"), data.get("type"), data.get("config"), data.get("split"))


def update_front_matter(text: str, metadata: dict[str, Any], *, source: str) -> str:
    """``text``, YAML front matter with ``\\n`` line ends, edited in place to say ``metadata``.

    Only what changes is written (see the module); the rest stays byte for byte. Where the
    edit would not read back as ``metadata`` (anchors shared by two keys, a mapping that is
    not a block of string keys), the whole front matter is written anew, with a warning.
    """
    root = compose_yaml(text, source=source, error=CardError) if text.strip() else None
    old = parse_metadata(text, source=source)
    if root is None:  # nothing but comments, or nothing at all
        return text + ("" if text.endswith("\n") or not text else "\n") + _block(metadata, 0)
    if isinstance(root, yaml.MappingNode) and not root.flow_style:
        edits: list[_Edit] = []
        _edit(text, root, old, metadata, edits, key=None)
        edited = _apply(text, edits)
        try:
            if parse_metadata(edited, source=source) == metadata:
                return edited
        except CardError:
            pass
    if old:
        warnings.warn(
            f"{source}: its front matter could not be edited in place (anchors, or keys that "
            "are not plain strings), so cardgen wrote it out whole; check its formatting",
            stacklevel=4,
        )
    return dump_metadata(metadata) + "\n"


def _edit(text: str, node: yaml.Node, old: Any, new: Any, edits: list[_Edit], key: Any) -> None:
    """Add to ``edits`` what turns ``node`` (holding ``old``) into ``new``; ``key`` is the key
    node when ``node`` is the value of a mapping."""
    if old == new and type(old) is type(new):
        return
    if isinstance(node, yaml.MappingNode) and not node.flow_style:
        keys = _string_keys(node)
        if isinstance(old, dict) and isinstance(new, dict) and keys and set(old) <= set(new):
            for name, (key_node, value) in keys.items():
                _edit(text, value, old[name], new[name], edits, key=key_node)
            added = {name: value for name, value in new.items() if name not in old}
            if added:
                *_, (last_key, last) = keys.items()
                column = last[0].start_mark.column
                if last_key == "model-index" and "model-index" not in added:  # it stays last
                    at = last[0].start_mark.index - column
                    edits.append((at, at, _block(added, column)))
                else:
                    edits.append(_after(text, node, _block(added, column)))
            return
    if isinstance(node, yaml.SequenceNode) and isinstance(old, list) and isinstance(new, list):
        extra = new[len(old) :]
        if not node.flow_style and len(new) >= len(old):
            for item, before, after in zip(node.value, old, new, strict=False):
                _edit(text, item, before, after, edits, key=None)
            if extra:
                edits.append(_after(text, node, _block(extra, node.start_mark.column)))
            return
        scalars = all(not isinstance(item, dict | list) for item in extra)
        closing = node.end_mark.index - 1
        if new[: len(old)] == old and scalars and text[closing : closing + 1] == "]":
            items = ", ".join(_inline(item) for item in extra)
            edits.append((closing, closing, f", {items}" if old else items))
            return
    inline = not isinstance(new, dict | list) or not new
    if isinstance(node, yaml.ScalarNode) or node.flow_style:
        if inline or key is None or (node.flow_style and old):  # a flow value stays flow
            edits.append((node.start_mark.index, node.end_mark.index, _inline(new)))
            return
    elif inline and key is None:
        edits.append((node.start_mark.index, _content_end(node), _inline(new)))
        return
    if key is None:
        block = _block(new, node.start_mark.column, first=False)
        edits.append((node.start_mark.index, _line_end(text, node), block))
    else:
        block = _block({key.value: new}, key.start_mark.column, first=False)
        edits.append((key.start_mark.index, _line_end(text, node), block))


def _string_keys(node: yaml.MappingNode) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """The mapping's ``{key: (key node, value node)}``; empty when a key is not a plain string."""
    keys = {}
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag != _STR:
            return {}
        keys[key.value] = (key, value)
    return keys


def _after(text: str, node: yaml.Node, lines: str) -> _Edit:
    """An edit that puts ``lines`` after the last line of ``node``."""
    end = _line_end(text, node)
    return (end, end, lines if text[end - 1 : end] in ("\n", "") else "\n" + lines)


def _line_end(text: str, node: yaml.Node) -> int:
    """Where the line holding the last character of ``node`` ends (after its line break)."""
    end = _content_end(node)
    if end > 0 and text[end - 1] == "\n":
        return end
    newline = text.find("\n", end)
    return len(text) if newline < 0 else newline + 1


def _content_end(node: yaml.Node) -> int:
    """The end of ``node``'s last character: a block collection's end mark is the next token."""
    while isinstance(node, yaml.MappingNode | yaml.SequenceNode) and not node.flow_style:
        if not node.value:
            break
        last = node.value[-1]
        node = last[1] if isinstance(last, tuple) else last
    return int(node.end_mark.index)


def _block(value: Any, column: int, *, first: bool = True) -> str:
    """``value`` as block YAML whose lines start at ``column`` (but the first, unless
    ``first``: it continues a line that already has its indentation)."""
    lines = dump_metadata(value).split("\n")
    pad = " " * column
    return "\n".join(pad + line if first or i else line for i, line in enumerate(lines)) + "\n"


def _inline(value: Any) -> str:
    """``value`` as one line of flow YAML (quoted where a plain scalar would read otherwise)."""
    flow = yaml.safe_dump(
        [value], default_flow_style=True, allow_unicode=True, width=2**30, sort_keys=False
    )
    return str(flow).strip()[1:-1]


def _apply(text: str, edits: list[_Edit]) -> str:
    parts: list[str] = []
    position = 0
    for start, end, replacement in sorted(edits, key=lambda edit: (edit[0], edit[1])):
        parts += [text[position:start], replacement]
        position = max(position, end)
    return "".join([*parts, text[position:]])

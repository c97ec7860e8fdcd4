"""JSON with comments, read with positions so one entry can be changed by a small text edit.

A user's client config holds their other servers, their comments and their layout; re-dumping
the file would lose the comments and reflow everything. So the parser keeps where each member and
item starts and ends, and the edits below splice text at those places. The caller parses the
result back and compares it with what it meant to write, so a wrong splice can never be saved.
Accepted beyond strict JSON: `//` and `/* */` comments and trailing commas (VS Code and Zed
write both).
"""

import json
import re
from dataclasses import dataclass, field

_MAX_DEPTH = 100  # a config nests a few levels; this only stops a recursion bomb
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"')
_LITERALS = {"true": True, "false": False, "null": None}


class JsoncError(ValueError):
    """The text is not JSON (with comments); says the line and column where it broke."""


@dataclass
class Node:
    start: int
    end: int  # one past the last character
    value: object
    # Objects and arrays: (start of the key or item, the value node), in order.
    entries: list[tuple[int, "Node"]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # objects only, beside entries

    def member(self, key: str) -> "Node | None":
        return self.entries[self.keys.index(key)][1] if key in self.keys else None


def parse(text: str) -> Node:
    parser = _Parser(text)
    node = parser.value(0)
    parser.skip()
    if parser.pos != len(text):
        parser.fail("unexpected text after the end of the document")
    return node


def is_blank(text: str) -> bool:
    """Only whitespace and comments: a file the user emptied counts as a new one."""
    parser = _Parser(text)
    parser.skip()
    return parser.pos == len(text)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, what: str) -> None:
        line = self.text.count("\n", 0, self.pos) + 1
        column = self.pos - (self.text.rfind("\n", 0, self.pos) + 1) + 1
        raise JsoncError(f"line {line}, column {column}: {what}")

    def skip(self) -> None:
        """Past whitespace and comments."""
        text = self.text
        while self.pos < len(text):
            if text[self.pos] in " \t\r\n\ufeff":
                self.pos += 1
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    self.fail("a /* comment is never closed")
                self.pos = end + 2
            else:
                return

    def value(self, depth: int) -> Node:
        if depth > _MAX_DEPTH:
            self.fail("nested too deeply")
        self.skip()
        char = self.text[self.pos : self.pos + 1]
        if char == "{":
            return self.container(depth, "}")
        if char == "[":
            return self.container(depth, "]")
        if char == '"':
            start = self.pos
            return Node(start, self.pos, self.string())
        return self.scalar()

    def string(self) -> str:
        match = _STRING.match(self.text, self.pos)
        if match is None:
            self.fail("a string is not closed or holds a bad escape")
            raise AssertionError  # fail() raised
        self.pos = match.end()
        text: str = json.loads(match.group())
        return text

    def scalar(self) -> Node:
        start = self.pos
        match = _NUMBER.match(self.text, start)
        if match:
            self.pos = match.end()
            return Node(start, self.pos, json.loads(match.group()))
        for word, literal in _LITERALS.items():
            if self.text.startswith(word, start):
                self.pos = start + len(word)
                return Node(start, self.pos, literal)
        self.fail("expected a value" if start < len(self.text) else "the document ends early")
        raise AssertionError  # fail() raised

    def container(self, depth: int, closer: str) -> Node:
        node = Node(self.pos, self.pos, {} if closer == "}" else [])
        self.pos += 1
        while True:
            self.skip()
            if self.text.startswith(closer, self.pos):
                self.pos += 1
                node.end = self.pos
                return node
            self.entry(node, depth, closer)
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif not self.text.startswith(closer, self.pos):
                self.fail(f"expected ',' or '{closer}'")

    def entry(self, node: Node, depth: int, closer: str) -> None:
        start = self.pos
        if closer == "]":
            item = self.value(depth + 1)
            node.entries.append((start, item))
            assert isinstance(node.value, list)
            node.value.append(item.value)
            return
        if not self.text.startswith('"', start):
            self.fail("expected a member name in double quotes")
        key = self.string()
        self.skip()
        if not self.text.startswith(":", self.pos):
            self.fail("expected ':' after a member name")
        self.pos += 1
        member = self.value(depth + 1)
        node.entries.append((start, member))
        node.keys.append(key)
        assert isinstance(node.value, dict)
        node.value[key] = member.value


# Edits: each returns the new text. `indent_unit` is the file's own ("  ", "    " or "\t").


def indent_unit(text: str) -> str:
    match = re.search(r"\n([ \t]+)\S", text)
    return match.group(1) if match else "  "


def newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def line_indent(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    return re.match(r"[ \t]*", text[start:]).group()  # type: ignore[union-attr]


def render(value: object, indent: str, unit: str, nl: str) -> str:
    """`value` as JSON laid out like the file, its later lines indented by `indent`."""
    return json.dumps(value, indent=unit, ensure_ascii=False).replace("\n", nl + indent)


def replace_value(text: str, node: Node, value: object, entry_start: int) -> str:
    indent = line_indent(text, entry_start)
    rendered = render(value, indent, indent_unit(text), newline(text))
    return text[: node.start] + rendered + text[node.end :]


def insert_entry(text: str, container: Node, key: str | None, value: object) -> str:
    """Add `"key": value` (or an item, when key is None) as the container's last entry."""
    unit, nl = indent_unit(text), newline(text)
    body = text[container.start : container.end]
    prefix = "" if key is None else json.dumps(key, ensure_ascii=False) + ": "
    if not container.entries:
        outer = line_indent(text, container.start)
        inner = text[container.start + 1 : container.end - 1]
        rendered = prefix + render(value, outer + unit, unit, nl)
        if inner.strip():  # keep a comment that is all the container holds
            return (
                text[: container.start + 1]
                + nl
                + outer
                + unit
                + rendered
                + text[container.start + 1 :]
            )
        closing = nl + outer
        return (
            text[: container.start + 1]
            + nl
            + outer
            + unit
            + rendered
            + closing
            + text[container.end - 1 :]
        )
    last = container.entries[-1][1]
    if "\n" not in body:  # a one-line container stays on one line
        rendered = prefix + json.dumps(value, ensure_ascii=False)
        return text[: last.end] + ", " + rendered + text[last.end :]
    indent = line_indent(text, container.entries[0][0])
    rendered = nl + indent + prefix + render(value, indent, unit, nl)
    # After the last entry's trailing comment, if any, and before the closing bracket's line.
    at = container.end - 1
    while text[at - 1] in " \t\r\n":
        at -= 1
    has_comma = _next_significant(text, last.end) == ","
    text = text[:at] + rendered + ("," if has_comma else "") + text[at:]
    return text if has_comma else text[: last.end] + "," + text[last.end :]


def remove_entry(text: str, container: Node, index: int) -> str:
    """Drop one member or item, its comma, and its line when it had the line to itself."""
    start, node = container.entries[index]
    end = node.end
    after = _skip_space(text, end)
    comma_before = None
    if after < len(text) and text[after] == ",":
        end = after + 1
    elif index > 0:  # the last entry: the comma before it goes instead
        comma_before = _comma_after(text, container.entries[index - 1][1].end)
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    if (
        not text[line_start:start].strip()
        and not text[end : len(text) if line_end < 0 else line_end].strip()
    ):
        start, end = line_start, len(text) if line_end < 0 else line_end + 1
    text = text[:start] + text[end:]
    if comma_before is not None:
        text = text[:comma_before] + text[comma_before + 1 :]
    return text


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _next_significant(text: str, pos: int) -> str:
    parser = _Parser(text)
    parser.pos = pos
    parser.skip()
    return text[parser.pos : parser.pos + 1]


def _comma_after(text: str, pos: int) -> int | None:
    parser = _Parser(text)
    parser.pos = pos
    parser.skip()
    return parser.pos if text.startswith(",", parser.pos) else None

"""The emulated model's use of declared function tools (kimi-api.md sections 2.2 and 2.8),
decided deterministically from the LAST user message and the tool messages after it.

Trigger grammar (case-insensitive; text before the first ask is ignored; `q`, `url` and `expr`
lose trailing spaces and `.?!`):

    search for <q>                    web_search  {"query": "<q>"}
    fetch <url>                       fetch       {"url": "<url>"}
    compute <expr> | calculate <expr> code_runner {"code": "print(<expr>)"}
    what date | today's date          date        {"operation": "now"}
    keep searching [for <q>]          web_search  {"query": "<q>" or "more"} in EVERY round, forever

A question with no ask, under a system message that says "search the web", is searched for
as a whole (how a web-search system prompt makes a real model search).

Asks joined by " and " (before another ask) are calls of one round; groups joined by ", then "
are rounds, round k made once the tool messages of round k-1 are present. Only declared names
are called; an ask for an undeclared tool, or any ask under `tool_choice: "none"`, is answered in
text. Call ids are `<name>:<index in the message>`, so unique within one message only.

The final answer (`finish_reason: "stop"`) uses every tool message after the last user message:
web_search results (the emulator's own envelope, decrypted) are cited as `[<title>](<url>)`,
fetch results quoted, code results stated ("The result is 42."), and a tool message starting
`Error:` acknowledged ("The fetch tool failed (...); answering without it.").
"""

import base64
import json
import re
from typing import Any

from kimi_mcp.emulator.catalogue import Obj

ASK = (
    r"(?P<search>search for\s+(?P<query>.+))"
    r"|(?P<fetch>fetch\s+(?P<url>\S+))"
    r"|(?P<compute>(?:compute|calculate)\s+(?P<expr>.+))"
    r"|(?P<date>(?:what date|today's date).*)"
)
VERBS = r"search for\s|fetch\s|compute\s|calculate\s|what date|today's date"
FIRST_ASK = re.compile(rf"\b(?:{VERBS}|keep searching)", re.IGNORECASE)
AND_ASK = re.compile(rf"\s+and\s+(?=(?:{VERBS}))", re.IGNORECASE)
THEN = re.compile(r",\s*then\s+", re.IGNORECASE)
KEEP = re.compile(r"keep searching(?:\s+for\s+(?P<query>[^,]+))?", re.IGNORECASE)
RESULT = re.compile(r"Result \d+: (?P<url>\S+) about (?P<title>.*)")
ENVELOPE = re.compile(r"----MOONSHOT ENCRYPTED BEGIN----(.*)----MOONSHOT ENCRYPTED END----", re.S)
Call = tuple[str, dict[str, str]]  # (function name, arguments)


def _ask(text: str) -> Call | None:
    match = re.fullmatch(ASK, text.strip(), re.IGNORECASE | re.DOTALL)
    if match is None:
        return None
    if match["search"]:
        return "web_search", {"query": _clean(match["query"])}
    if match["fetch"]:
        return "fetch", {"url": _clean(match["url"]).rstrip(",;)")}
    if match["compute"]:
        return "code_runner", {"code": f"print({_clean(match['expr'])})"}
    return "date", {"operation": "now"}


def _clean(text: str) -> str:
    return text.strip().rstrip(".?! ")


def plan(question: str) -> list[list[Call]] | Call:
    """The rounds of calls the question asks for, or the one call of `keep searching`."""
    start = FIRST_ASK.search(question)
    if start is None:
        return []
    keep = KEEP.search(question)
    if keep is not None:
        return "web_search", {"query": _clean(keep["query"] or "") or "more"}
    rounds = [AND_ASK.split(part) for part in THEN.split(question[start.start() :])]
    return [[call for ask in part if (call := _ask(ask))] for part in rounds]


def _asked(question: str, messages: list[Obj]) -> list[list[Call]] | Call:
    asked = plan(question)
    systems = " ".join(_text(m.get("content")) for m in messages if m.get("role") == "system")
    if not asked and "search the web" in systems.lower():
        return [[("web_search", {"query": _clean(question)[:200] or "news"})]]
    return asked


def tail_after_question(messages: list[Obj]) -> list[Obj]:
    """The messages after the last user message."""
    last = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    return messages[last + 1 :]


def next_calls(
    question: str, messages: list[Obj], declared: set[str], choice: Any
) -> list[Obj] | None:
    """The tool calls of the next round, or None when the model answers in text."""
    if choice == "none" or messages[-1].get("role") not in ("user", "tool"):
        return None
    done = sum(1 for m in tail_after_question(messages) if m.get("tool_calls"))
    asked = _asked(question, messages)
    if isinstance(asked, tuple):
        calls = [asked] if asked[0] in declared else []
    else:
        rounds = [r for r in ([c for c in part if c[0] in declared] for part in asked) if r]
        calls = rounds[done] if done < len(rounds) else []
    return [_call(i, name, args) for i, (name, args) in enumerate(calls)] or None


def _call(index: int, name: str, arguments: dict[str, str]) -> Obj:
    encoded = json.dumps(arguments, ensure_ascii=False)
    return {
        "id": f"{name}:{index}",
        "type": "function",
        "function": {"name": name, "arguments": encoded},
    }


def explain(calls: list[Obj]) -> str:
    """The short sentence before a round of calls."""
    names = sorted({call["function"]["name"] for call in calls})
    return f"Let me use {' and '.join(names)}."


def final_notes(question: str, messages: list[Obj], declared: set[str]) -> str:
    """What the final answer says about the tools: each result used, each unavailable tool."""
    notes: list[str] = []
    asked = _asked(question, messages)
    wanted = {c[0] for part in asked for c in part} if isinstance(asked, list) else {asked[0]}
    for name in sorted(wanted - declared):
        notes.append(f"There is no {name} tool here, so I answer without it.")
    names: dict[Any, str] = {}  # call id -> name, of the tool-call turn being answered
    for message in tail_after_question(messages):
        if message.get("tool_calls"):
            names = {c.get("id"): c.get("function", {}).get("name") for c in message["tool_calls"]}
        elif message.get("role") == "tool":
            name = names.get(message.get("tool_call_id")) or "unknown"
            notes.append(_use(name, _text(message.get("content"))))
    return "\n\n".join(notes)


def _text(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(p["text"] for p in content if isinstance(p, dict) and "text" in p)
    return content if isinstance(content, str) else ""


def _use(name: str, output: str) -> str:
    if output.startswith("Error:"):
        reason = output.removeprefix("Error:").strip()
        return f"The {name} tool failed ({reason}); answering without it."
    if name == "web_search":
        return _cite(output)
    if name == "fetch":
        return "The page says:\n" + "\n".join(f"> {line}" for line in output.splitlines())
    if name == "code_runner":
        return f"The result is {', '.join(output.split())}."
    if name == "date":
        return f"Today is {output.strip()}."
    return f"The {name} tool said: {output}"


def _cite(output: str) -> str:
    """The search results as Markdown links, read from the emulator's own encrypted envelope."""
    sealed = ENVELOPE.fullmatch(output.strip())
    try:
        plain = base64.b64decode(sealed[1], validate=True).decode() if sealed else ""
    except ValueError:
        plain = ""
    found = [f"[{m['title'] or m['url']}]({m['url']})" for m in RESULT.finditer(plain)]
    if not found:
        return "The web_search result could not be read; answering without it."
    return f"Sources: {', '.join(found)}."

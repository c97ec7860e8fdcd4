"""Prompts (hosts show them as slash commands): ready-made requests that have the host model call
ask_kimi. Each renders one user message for the host model; Kimi sees only what that model sends.

A local path goes to ask_kimi's `files` (the path guard reads it and Kimi extracts its text), never
pasted into the prompt, so the host model spends none of its own context on the document.
"""

import json
from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver.prompts.base import Prompt
from pydantic import Field

_NOTHING = "(none given)"


async def second_opinion(
    question: Annotated[
        str, Field(description="The question, plan or decision for Kimi to challenge.")
    ],
    context: Annotated[
        str, Field(description="What Kimi should know: constraints, what was tried, file paths.")
    ] = "",
) -> str:
    """Have Kimi challenge a question, plan or decision: weak points, risks, better options."""
    return (
        "Get a second opinion from Kimi: call the ask_kimi tool with a prompt that states the "
        "question or plan below in full, with its context, and asks Kimi to challenge it (weak "
        "points, risks, what is missing, a better alternative if there is one). Pass any local "
        "file the context names in ask_kimi's `files` argument instead of pasting it. Then tell "
        "me where Kimi agrees, where it objects, and what you make of each objection.\n\n"
        f"Question or plan:\n{question}\n\nContext:\n{context or _NOTHING}"
    )


async def review(
    diff_or_file: Annotated[
        str, Field(description="A diff or code to review, or the path of a local file.")
    ],
    focus: Annotated[
        str, Field(description="What to look for, e.g. security; default: correctness first.")
    ] = "",
) -> str:
    """Have Kimi review a diff or a file: concrete problems, most serious first, with fixes."""
    return (
        "Have Kimi review the code below. If it is the path of a local file, call the ask_kimi "
        "tool with files=[that path]; otherwise put the diff or code itself in ask_kimi's "
        "prompt. Ask Kimi for a code review: concrete problems (bugs, unhandled cases, security, "
        "then clarity), each with the line or hunk it concerns and a suggested fix, most serious "
        "first. Then report Kimi's findings, saying which you agree with.\n\n"
        f"Focus: {focus or 'correctness first'}\n\nDiff, code or file path:\n{diff_or_file}"
    )


async def summarize_document(
    path: Annotated[
        str, Field(description="Path of the document (PDF, Word, text...) on this machine.")
    ],
    focus: Annotated[
        str, Field(description="What the summary should bring out; default: the main points.")
    ] = "",
) -> str:
    """Have Kimi read a local document and summarize it, so it never fills your own context."""
    return (
        f"Call the ask_kimi tool with files=[{json.dumps(path)}] and a prompt asking Kimi to "
        f"summarize that document, bringing out {focus or 'its main points'}, in a short "
        "structured summary that names the sections it draws on. Show me Kimi's summary as it "
        "is; if the result says it is truncated, say so. If the path is refused, tell me the "
        "reason the error gives."
    )


PROMPTS = (
    (second_opinion, "Second opinion from Kimi"),
    (review, "Review with Kimi"),
    (summarize_document, "Summarize a document with Kimi"),
)


def register_prompts(server: MCPServer[Any]) -> None:
    for fn, title in PROMPTS:
        server.add_prompt(Prompt.from_function(fn, title=title))

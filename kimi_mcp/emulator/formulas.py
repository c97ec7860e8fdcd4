"""The emulator's Formula API (kimi-api.md section 2.8): tool declarations and fibers, answered
deterministically. Code is never executed: code_runner evaluates only printed arithmetic."""

import ast
import base64
import datetime
import json
import operator
import time
import uuid
from typing import Any

from starlette.requests import Request

from kimi_mcp.emulator import rules, wire
from kimi_mcp.emulator.requests import read_json


def _function(name: str, description: str, properties: dict[str, Any]) -> dict[str, Any]:
    parameters = {"type": "object", "properties": properties, "required": [next(iter(properties))]}
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


CLASSES = ["all", "academic", "social", "library", "finance", "code", "ecommerce", "medical"]
TOOLS: dict[str, dict[str, Any]] = {
    "moonshot/web-search:latest": _function(
        "web_search",
        "Search the web for information.",
        {
            "query": {"type": "string", "description": "What to search for."},
            "classes": {"type": "array", "items": {"type": "string", "enum": CLASSES}},
        },
    ),
    "moonshot/fetch:latest": _function(
        "fetch",
        "Fetch a URL and return its content as Markdown.",
        {"url": {"type": "string", "description": "The URL to fetch."}},
    ),
    "moonshot/code_runner:latest": _function(
        "code_runner",
        "Run Python code and return what it prints.",
        {"code": {"type": "string", "description": "The Python code to run."}},
    ),
    "moonshot/date:latest": _function(
        "date",
        "Date and time arithmetic.",
        {"operation": {"type": "string", "description": "What to compute, e.g. 'now'."}},
    ),
}
_OPS: dict[type, Any] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def _formula(request: Request) -> str:
    uri = request.path_params["uri"]
    uri = uri if ":" in uri else f"{uri}:latest"  # the tag defaults to latest (section 2.8)
    if uri not in TOOLS:
        message = f"Not found the formula {uri} or Permission denied"
        raise rules.Rejection(message, 404, "resource_not_found_error")
    return uri


async def tools(request: Request) -> wire.Reply:
    return wire.json_reply({"object": "list", "tools": [TOOLS[_formula(request)]]})


async def fibers(request: Request) -> wire.Reply:
    uri = _formula(request)
    body = await read_json(request)
    name, arguments = body.get("name"), body.get("arguments")
    if name != TOOLS[uri]["function"]["name"] or not isinstance(arguments, str):
        raise rules.bad(f'the body must be {{"name": ..., "arguments": "<json>"}} of {uri}')
    try:
        args = json.loads(arguments)
    except ValueError:
        raise rules.bad("arguments is not a valid JSON string") from None
    if not isinstance(args, dict):
        raise rules.bad("arguments must encode a JSON object")
    context: dict[str, str] = {"input": json.dumps(body, ensure_ascii=False)}
    status, output = "succeeded", _run(str(name), args)
    if output is None:
        status, output = "failed", f"{name} could not run these arguments"
    if name == "web_search" and status == "succeeded":
        secret = base64.b64encode(output.encode()).decode()
        context["encrypted_output"] = (
            f"----MOONSHOT ENCRYPTED BEGIN----{secret}----MOONSHOT ENCRYPTED END----"
        )
    else:
        context["output"] = output
    fiber = {
        "id": f"fiber-{uuid.uuid4().hex[:20]}",
        "object": "fiber",
        "created_at": int(time.time()),
        "lambda_id": f"lambda-{uuid.uuid4().hex[:20]}",
        "status": status,
        "context": context,
        "formula": uri,
        "organization_id": "org-emulator",
        "project_id": "proj-emulator",
    }
    return wire.json_reply(fiber)


def _run(name: str, args: dict[str, Any]) -> str | None:
    if name == "web_search":
        query = str(args.get("query", ""))
        slug = "-".join(query.lower().split()) or "empty"
        return f"Result 1: https://example.com/search/{slug} about {query}"
    if name == "fetch":
        url = args.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return None
        return f"# Emulated page\n\nThe content of {url}."
    if name == "code_runner":
        return _printed_arithmetic(str(args.get("code", "")))
    return datetime.date(2026, 1, 15).isoformat()  # date: a fixed "today", deterministic


def _printed_arithmetic(code: str) -> str | None:
    """What `print(<arithmetic>)` lines print; None for anything else (nothing is executed)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    lines = []
    for statement in tree.body:
        call = statement.value if isinstance(statement, ast.Expr) else None
        if not (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id == "print"
            and len(call.args) == 1
            and not call.keywords
        ):
            return None
        value = _arithmetic(call.args[0])
        if value is None:
            return None
        lines.append(f"{value}\n")
    return "".join(lines)


def _arithmetic(node: ast.expr) -> int | float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return None if isinstance(node.value, bool) else node.value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
        operand = _arithmetic(node.operand)
        return None if operand is None else _OPS[type(node.op)](operand)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _arithmetic(node.left), _arithmetic(node.right)
        if (
            left is None
            or right is None
            or (right == 0 and isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)))
        ):
            return None
        result: int | float = _OPS[type(node.op)](left, right)
        return result
    return None

"""The progress floor: a bare MCPServer whose one tool streams a chat from Kimi (httpx2, the body
it is given) and tells each phase change (first thinking, first answer token) as a progress note
at once. Run as a stdio child with MOONSHOT_BASE_URL and MOONSHOT_API_KEY set."""

import json
import os

import httpx2
from mcp.server import MCPServer
from mcp.server.mcpserver import Context

server = MCPServer("bare-stream", version="0")


@server.tool()
async def stream(body: str, ctx: Context) -> str:
    """Stream the chat `body` (JSON) and return the answer's text."""
    headers = {"Authorization": f"Bearer {os.environ['MOONSHOT_API_KEY']}"}
    url = os.environ["MOONSHOT_BASE_URL"] + "/chat/completions"
    phase, answer, notes = "waiting", [], 0
    async with (
        httpx2.AsyncClient(timeout=120) as http,
        http.stream("POST", url, content=body, headers=headers) as response,
    ):
        async for line in response.aiter_lines():
            if not line.startswith("data: {"):
                continue
            delta = json.loads(line[6:])["choices"][0].get("delta", {})
            now = "answering" if delta.get("content") else phase
            now = "thinking" if delta.get("reasoning_content") else now
            answer.append(delta.get("content") or "")
            if now != phase:
                phase, notes = now, notes + 1
                await ctx.report_progress(notes, None, f"{phase}: news")
    return "".join(answer)


if __name__ == "__main__":
    server.run()

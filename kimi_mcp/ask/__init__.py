"""ask_kimi's work apart from MCP, and the services the file and model tools share with it.

- `chat`: `ChatService`, one ask: the conversation, documents and images, fitting, the stream
  and its tool rounds, the answer kept and charged; `exchange` holds what it takes
  (`ChatRequest`) and gives (`ChatAnswer`, which the MCP face shapes into its result);
- `tool_loop` (Kimi's official tools: stream, run the calls as fibers, ask again),
  `kimi_tools` (which formulas, their declarations cached), `sources` (the links an answer
  cites), `structured` (json_mode/json_schema answers parsed and validated), `effort`
  (kimi-k3's reasoning_effort per conversation);
- `pricing` (the price table, a call's estimated cost) and `spending` (the day's spend, the cap);
- `documents` (uploads once per content, extracted text cached, documents as Kimi reads them;
  `claim_gate`: the claim a one-pass upload takes before its last chunk),
  `images` and `question` (the user message with its images), `catalogue` (the live model
  list), `token_counts` (Kimi's counts, cached per message), `message_keys` (the keys of those
  counts, kept per conversation as it grows), `usage_counts` (what Kimi's usage proves for the
  next fit), `fitting` (the history fitted to the window, tool rounds dropped whole) and
  `prompting` (one call's prompt built and fitted, and its usage learnt from).

May import: `kimi_mcp.kimi` (the client, not its mechanics), the interfaces of `kimi_mcp.store`,
`kimi_mcp.local_files`, `kimi_mcp.errors` (never `mcp`, `config` or `server`).
"""

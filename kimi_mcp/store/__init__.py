"""What kimi-mcp keeps: conversations, the upload ledger, the spend per day and Kimi's token
counts, each behind one small interface.

- `conversations`: `ConversationStore`, the interface, and its values (`Conversation`, `Turn`);
  `default_owner`: the owner no bearer names;
- `uploads`: `UploadLedger`, the interface, and `LedgerEntry`;
- `spend`: `SpendLedger`, the interface, and `Spend`;
- `token_counts`: `TokenCountStore`, a shared cache of Kimi's counts by content key;
- `sqlite_conversations`, `sqlite_uploads`, `sqlite_spend`, `sqlite_token_counts`: the embedded
  backend, one SQLite file each in the data directory, over `sqlite_file` (`sqlite_rows`: a
  turn as a row and back, its text kept exactly);
- `answer_writes`: the writes after a billed answer (turns, token counts, spend) made in one go;
  `sqlite_answer_writes` makes them in one worker-thread hop;
- `conversation_cache`: the turns of recently loaded conversations, so both backends read only
  the turns added since the last load;
- `redis_conversations`, `redis_uploads`, `redis_spend`, `redis_token_counts`: the Redis backend
  for replicas, over
  one shared `redis_connection` (the `redis` extra, imported only for a Redis URL);
- `open`: `open_stores`, the stores for a store URL (the one place that knows backends).

Callers (the ask pipeline, the server) hold the interfaces; only the server picks a backend, so a
second one is a new module here and one line there.

May import: `kimi_mcp.errors` and `redis` only.
"""

"""Long-term memory: what the assistant knows about each person and chat, across sessions.

- `model`: scopes (`sender:<channel>:<id>`, `chat:<channel>:<id>`, `agent:<name>`), identities, text rules
- `query`: a message's content words as an FTS5 query (stop words dropped, OR-ed, bm25-ranked)
- `scopes`: which scopes one turn reads and writes, and whose transcripts `recall` may search
- `service`: `MemoryService` (remember with de-duplication and a per-scope cap, forget, link) and
  `TurnMemory`, one turn's view of it, which tools receive as `deps.memory`
- `recall`: the bounded block of memories each turn's instructions get, quoted as data
- `tools` (pydantic-ai): the `remember`, `recall` and `forget` tools
- `extraction`: durable facts asked for in the same model call as a compaction summary
- `search`: transcript and memory search for the CLI and the web panel (`search_transcripts`)
- `transfer`: export and import (Markdown like OpenClaw's MEMORY.md, or JSON)
- `commands`: the `/memory` and `/forget` chat commands' answers

Import-light except `tools`: the CLI's `agentbox memory ...` commands load no pydantic-ai.
"""

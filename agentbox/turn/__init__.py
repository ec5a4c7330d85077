"""One turn: what the CLI and the gateway share, from a request to a recorded answer.

- `runner` — `TurnRunner`: lane → guards (`caps`) → history (`history`, `compaction`) →
  pydantic-ai run (`agent` builds it; tools get `deps.TurnDeps`; `tool_results` caps what tools
  return) → usage (`pricing`, `usage`) recorded with the turn.
- `lanes` keeps each session's turns in order while sessions run concurrently.
"""

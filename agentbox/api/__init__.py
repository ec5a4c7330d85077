"""The OpenAI-compatible API on the gateway's server: any OpenAI client talks to an agentbox agent.

- `keys` — API keys besides the gateway token (`agentbox tokens create`), stored hashed, and the
  authenticator that accepts them on `/v1/` routes.
- `wire` — the request body as OpenAI clients send it, and the response, chunk and error JSON.
- `convert` — the request's messages as a turn: the last user message (text and images) and,
  without a session, the earlier messages as history.
- `media` — signed `/media/<name>` links to images the agent produced.
- `service` — the gateway service: `GET /v1/models`, `POST /v1/chat/completions` (JSON or SSE).

Import-light (`keys` is used by `agentbox tokens`): pydantic-ai is imported by `convert` and `service` only.
"""

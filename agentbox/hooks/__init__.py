"""Signed webhooks: `POST /hooks/<name>` on the gateway's server turns another program's event into work.

- `signature` — HMAC-SHA256 of the raw body (`X-Agentbox-Signature: sha256=<hex>` or GitHub's
  `X-Hub-Signature-256`), checked in constant time before anything is stored.
- `template` — the message built from the JSON payload: `{{payload.a.b}}` placeholders, nothing run.
- `ratelimit` — a token bucket per hook.
- `service` — the gateway service: the route, the durable inbox row, and the worker that runs each
  delivery once (a turn of the agent, or the rendered text as it is) and delivers the result.

Import-light: the config validates templates with `template`, and `agentbox hooks test` signs with `signature`.
"""

"""The gateway: the long-running daemon between chat platforms and the turn pipeline.

One message, in the order these modules handle it:

- `lifecycle` — `Gateway`: starts the control endpoint, the delivery service, connectors (each in a
  `supervisor.ConnectorSlot`) and background services; stores every inbound message in the inbox
  (`Gateway.deliver`) before anything else; recovers what a crash left; drains on shutdown.
- `dispatch` — one worker per session: `access` (DM/group policy, `group_pairing`,
  `approval_notices`), `refusals`, `inbound_media` (downloads only after access), chat `commands`,
  then a turn (`agentbox.turn`); `routing` picks the agent and session key.
- `replies` (streaming, typing) and `delivery` (the durable outbox) send the answer.
- `control` — the token-protected local HTTP endpoint, where features mount routes (`agentbox.api`, the
  OpenAI-compatible API; `agentbox.hooks`, signed webhooks; `telegram_webhook`); `requestbody` reads a
  request body with a size limit; `homelock` — one gateway per home.
- Background services: `jobs` (video), `retention` (pruning); `diskfull` reports a full disk.

Import-light: nothing here is imported by `agentbox --help` or the pairing CLI except what they name.
"""

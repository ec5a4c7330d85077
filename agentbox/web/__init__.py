"""The web control panel: pages on the gateway's one HTTP server, for the owner only.

`agentbox.web.panel.WebPanel` is a gateway service and a `WebFeature`: its routes and its
session-cookie authenticator are mounted on the control server (`agentbox.gateway.control`).
Modules: `auth` (one-time login links, session cookies, CSRF), `guard` (Host check, security
headers, owner-only handlers), `render` (templates, safe Markdown), `charts` (server-side SVG),
`queries` (what the pages read), `pages`, `actions`, `chat` and `logtail` (the handlers).
Templates and static files ship inside the package; nothing is fetched at run time.
"""

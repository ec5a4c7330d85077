"""The Slack channel: settings, connector (platform ⇄ Inbound/Outbound) and its helpers."""

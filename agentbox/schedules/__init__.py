"""Reminders and scheduled tasks (docs/schedules.md).

    timing    rules (at / every / cron) and the next run after an instant, DST-safe (croniter, zoneinfo)
    when      `when` / `repeat` / `until` as people and models write them → a Timing
    book      make, find, pause, resume and cancel schedules, with the limits (tools, chat commands, CLI)
    describe  confirmations, list lines, the late mark, and the JSON shape of `cron list --json`
    firing    one claimed run delivered: a reminder as is, a task's answer, a missed-run report
    service   the gateway's Scheduler: the timer, claims, catch-up, `POST /schedules/wake` and `/{id}/run`
    tools     the model's tools: schedule, list_schedules, cancel_schedule, set_timezone
    commands  /reminders, /cancel and /timezone in chats

Another process (the CLI) tells the running gateway about changes with
`agentbox.cli.gateway_client.wake_schedules` (`POST /schedules/wake`).

The table and its claim live in `agentbox.store.schedules` (`store.schedules.list()` for the web panel).
"""

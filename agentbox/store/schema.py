"""Numbered schema migrations. Append new ones; never edit one that has shipped."""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: sessions, turns (history + usage), media, summaries, pairing, inbox, jobs
    """
    CREATE TABLE sessions (
        key          TEXT PRIMARY KEY,
        channel      TEXT NOT NULL DEFAULT '',
        chat_id      TEXT NOT NULL DEFAULT '',
        thread_id    TEXT,
        agent        TEXT NOT NULL DEFAULT 'main',
        model        TEXT,                       -- per-session override (/model)
        epoch        INTEGER NOT NULL DEFAULT 0, -- bumped by /new: older turns leave the prompt
        created_at   REAL NOT NULL,
        updated_at   REAL NOT NULL
    );
    CREATE TABLE turns (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        session_key   TEXT NOT NULL REFERENCES sessions(key) ON DELETE CASCADE,
        epoch         INTEGER NOT NULL,
        started_at    REAL NOT NULL,
        finished_at   REAL,
        status        TEXT NOT NULL,             -- ok | failed | capped
        model         TEXT NOT NULL,
        sender_id     TEXT,
        user_text     TEXT NOT NULL DEFAULT '',
        reply         TEXT NOT NULL DEFAULT '',
        error         TEXT,
        input_tokens  INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        usd           REAL,                      -- meta.usage.usd_spent, or an estimate
        usd_estimated INTEGER NOT NULL DEFAULT 0,
        credits       REAL,
        tool_calls    TEXT NOT NULL DEFAULT '[]',
        attachments   TEXT NOT NULL DEFAULT '[]',
        messages      BLOB                       -- pydantic-ai ModelMessage JSON, media as references
    );
    CREATE INDEX turns_session ON turns(session_key, epoch, id);
    CREATE INDEX turns_started ON turns(started_at);
    CREATE TABLE media (
        sha256      TEXT PRIMARY KEY,
        media_type  TEXT NOT NULL,
        size        INTEGER NOT NULL,
        data        BLOB NOT NULL,
        created_at  REAL NOT NULL
    );
    CREATE TABLE summaries (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        session_key  TEXT NOT NULL REFERENCES sessions(key) ON DELETE CASCADE,
        epoch        INTEGER NOT NULL,
        upto_turn_id INTEGER NOT NULL,           -- turns with id <= this are summarized
        text         TEXT NOT NULL,
        created_at   REAL NOT NULL
    );
    CREATE TABLE pairing_requests (
        channel      TEXT NOT NULL,
        sender_id    TEXT NOT NULL,
        sender_name  TEXT NOT NULL DEFAULT '',
        code         TEXT NOT NULL,
        created_at   REAL NOT NULL,
        expires_at   REAL NOT NULL,
        PRIMARY KEY (channel, sender_id)
    );
    CREATE TABLE pairing_overflow (
        channel      TEXT PRIMARY KEY,
        count        INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE allowed_senders (
        channel      TEXT NOT NULL,
        sender_id    TEXT NOT NULL,
        sender_name  TEXT NOT NULL DEFAULT '',
        approved_at  REAL NOT NULL,
        notified     INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (channel, sender_id)
    );
    CREATE TABLE inbox (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        channel      TEXT NOT NULL,
        chat_id      TEXT NOT NULL,
        message_id   TEXT NOT NULL,
        sender_id    TEXT NOT NULL,
        payload      TEXT NOT NULL,              -- the Inbound as JSON, media as references
        status       TEXT NOT NULL DEFAULT 'pending', -- pending | done | ignored | failed
        session_key  TEXT,
        received_at  REAL NOT NULL,
        done_at      REAL,
        error        TEXT,
        UNIQUE (channel, chat_id, message_id)
    );
    CREATE INDEX inbox_pending ON inbox(status, id);
    CREATE TABLE jobs (
        id           TEXT PRIMARY KEY,
        kind         TEXT NOT NULL,              -- e.g. video
        session_key  TEXT NOT NULL,
        address      TEXT NOT NULL,              -- JSON Address to deliver to
        status       TEXT NOT NULL,              -- queued | generating | completed | error | delivered
        remote_id    TEXT,
        request      TEXT NOT NULL DEFAULT '{}',
        result       TEXT,
        error        TEXT,
        created_at   REAL NOT NULL,
        updated_at   REAL NOT NULL,
        next_poll_at REAL,
        last_progress_at REAL
    );
    CREATE INDEX jobs_status ON jobs(status);
    """,
    # 2: gateway durability and pairing notices. `turn_id` is set as soon as a turn has answered an
    # inbox row, so a restart re-sends the stored reply instead of asking the model twice;
    # `chat_id` on pairing rows says where to tell a sender they were approved (Slack/Discord DMs
    # are not addressed by user id).
    """
    ALTER TABLE inbox ADD COLUMN turn_id INTEGER;
    ALTER TABLE inbox ADD COLUMN replied_at REAL;
    ALTER TABLE inbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE pairing_requests ADD COLUMN chat_id TEXT NOT NULL DEFAULT '';
    ALTER TABLE allowed_senders ADD COLUMN chat_id TEXT NOT NULL DEFAULT '';
    """,
    # 3 (access: groups and pairing limits): groups the owner opened to everyone in them; one
    # pairing request per group, kept after its code expires so the group is hinted at most once;
    # refused pairing requests counted per channel and reason ("full", "cooldown", "groups full"),
    # which replaces the single overflow counter.
    """
    CREATE TABLE allowed_groups (
        channel      TEXT NOT NULL,
        group_id     TEXT NOT NULL,
        group_name   TEXT NOT NULL DEFAULT '',
        approved_at  REAL NOT NULL,
        PRIMARY KEY (channel, group_id)
    );
    CREATE TABLE group_requests (
        channel      TEXT NOT NULL,
        group_id     TEXT NOT NULL,
        group_name   TEXT NOT NULL DEFAULT '',
        code         TEXT NOT NULL,
        created_at   REAL NOT NULL,
        expires_at   REAL NOT NULL,
        PRIMARY KEY (channel, group_id)
    );
    CREATE TABLE pairing_refusals (
        channel      TEXT NOT NULL,
        reason       TEXT NOT NULL,
        count        INTEGER NOT NULL DEFAULT 0,
        last_at      REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (channel, reason)
    );
    INSERT INTO pairing_refusals(channel, reason, count) SELECT channel, 'full', count FROM pairing_overflow;
    DROP TABLE pairing_overflow;
    """,
    # 4 (delivery): the outbox. A reply the platform did not accept waits here, retried with
    # backoff in per-chat order until it is delivered or older than gateway.outbox_max_age.
    # Its inbox rows wait with status 'outbox' (and its id) and are settled when it is delivered.
    """
    CREATE TABLE outbox (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        channel      TEXT NOT NULL,
        chat_id      TEXT NOT NULL,
        address      TEXT NOT NULL,              -- JSON Address (thread, message replied to)
        text         TEXT NOT NULL DEFAULT '',
        attachments  TEXT NOT NULL DEFAULT '[]', -- JSON references: local path, media sha256 or URL
        inbox_ids    TEXT NOT NULL DEFAULT '[]', -- the inbox rows this reply answers
        settle       TEXT NOT NULL DEFAULT 'done', -- their status once delivered: done | ignored
        note         TEXT,                       -- their note once delivered (e.g. pairing)
        session_key  TEXT,
        message_id   TEXT,                       -- the platform message answered, for logs
        status       TEXT NOT NULL DEFAULT 'pending', -- pending | sending | delivered | expired | failed
        attempts     INTEGER NOT NULL DEFAULT 0,
        next_try_at  REAL NOT NULL,
        created_at   REAL NOT NULL,
        done_at      REAL,
        error        TEXT                        -- the last failure
    );
    CREATE INDEX outbox_waiting ON outbox(status, channel, chat_id, id);
    ALTER TABLE inbox ADD COLUMN outbox_id INTEGER;
    """,
    # 5 (model fallbacks) `model` is the model that answered; `fallback_from` the turn's own model
    # when a fallback answered instead (NULL otherwise), so usage can count fallbacks.
    """
    ALTER TABLE turns ADD COLUMN fallback_from TEXT;
    """,
    # 6 (voice): money spent by kind (stt, tts, image, video, ...). Rows with a `turn_id` break down
    # part of that turn's `usd` (a tool's call); rows without one were spent outside any turn
    # (transcribing a voice note, speaking an answer) and count on top of the turns, for usage and caps.
    """
    CREATE TABLE spend (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        kind          TEXT NOT NULL,             -- chat | stt | tts | image | video | other
        session_key   TEXT,
        channel       TEXT NOT NULL DEFAULT '',
        sender_id     TEXT,
        model         TEXT NOT NULL DEFAULT '',
        turn_id       INTEGER,                   -- set: already included in that turn's usd
        usd           REAL NOT NULL DEFAULT 0,
        usd_estimated INTEGER NOT NULL DEFAULT 0,
        credits       REAL,
        created_at    REAL NOT NULL
    );
    CREATE INDEX spend_created ON spend(created_at);
    """,
    # 7 (ingress: API keys): keys for the OpenAI-compatible API besides the gateway token, made by
    # `agentbox tokens create`. Only a SHA-256 of each key is kept; the key is shown once.
    """
    CREATE TABLE api_keys (
        name         TEXT PRIMARY KEY,
        key_hash     TEXT NOT NULL UNIQUE,       -- sha256 hex of the key
        hint         TEXT NOT NULL,              -- its first characters, to recognize it
        agent        TEXT,                       -- set: the only agent this key may use
        usd_per_day  REAL,                       -- set: this key's daily spending cap (UTC days)
        created_at   REAL NOT NULL,
        last_used_at REAL
    );
    """,
    # 8 (schedules): reminders and scheduled tasks. A due run is claimed by one UPDATE that moves
    # `next_run_at` on and records the run in `claim_*`; it is cleared once delivered, so a run a
    # crash interrupted is found and delivered on the next start. `person_timezones` keeps the
    # timezone each person stated. An outbox reply may @mention someone (a reminder in a group).
    """
    CREATE TABLE schedules (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        kind          TEXT NOT NULL,              -- reminder | task
        message       TEXT NOT NULL,
        rule_kind     TEXT NOT NULL,              -- at | every | cron
        rule          TEXT NOT NULL DEFAULT '',   -- every: the interval ("1d"), cron: the expression
        anchor_at     REAL,                       -- at: the instant, every: the first run
        timezone      TEXT NOT NULL,
        until_at      REAL,
        channel       TEXT NOT NULL,              -- where it is delivered (cli: a terminal session)
        chat_id       TEXT NOT NULL,
        thread_id     TEXT,
        session_key   TEXT NOT NULL,
        agent         TEXT NOT NULL DEFAULT 'main',
        sender_id     TEXT NOT NULL DEFAULT '',   -- who asked ('' from the CLI)
        sender_name   TEXT NOT NULL DEFAULT '',
        in_group      INTEGER NOT NULL DEFAULT 0, -- mention the sender when it is delivered
        created_by    TEXT NOT NULL DEFAULT 'chat', -- chat | cli
        status        TEXT NOT NULL DEFAULT 'active', -- active | paused | done | cancelled
        next_run_at   REAL,
        failures      INTEGER NOT NULL DEFAULT 0, -- task runs failed in a row
        runs          INTEGER NOT NULL DEFAULT 0,
        last_run_at   REAL,
        last_result   TEXT,
        claim_due_at  REAL,                       -- a claimed run not delivered yet: its due time
        claim_kind    TEXT,                       -- due | missed | manual
        claim_missed  INTEGER NOT NULL DEFAULT 0, -- earlier runs missed while the gateway was down
        claim_turn_id INTEGER,                    -- the task turn that answered the claim
        created_at    REAL NOT NULL,
        updated_at    REAL NOT NULL
    );
    CREATE INDEX schedules_due ON schedules(status, next_run_at);
    CREATE INDEX schedules_owner ON schedules(channel, sender_id, status);
    CREATE TABLE person_timezones (
        channel      TEXT NOT NULL,
        sender_id    TEXT NOT NULL,
        timezone     TEXT NOT NULL,
        updated_at   REAL NOT NULL,
        PRIMARY KEY (channel, sender_id)
    );
    ALTER TABLE outbox ADD COLUMN mention TEXT;
    """,
    # 9 (memory): long-term memories per scope (`sender:<channel>:<id>`, `chat:<channel>:<id>`,
    # `agent:<name>`) with a full-text index, the links that make several sender ids one person, and
    # a full-text index over every turn's user text and reply (backfilled here for existing turns).
    # Triggers keep both indexes in step with their tables, whoever writes or deletes rows.
    """
    CREATE TABLE memories (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        scope        TEXT NOT NULL,
        text         TEXT NOT NULL,
        norm         TEXT NOT NULL,              -- the text folded for de-duplication
        pinned       INTEGER NOT NULL DEFAULT 0, -- always recalled, never evicted
        source       TEXT NOT NULL DEFAULT 'tool', -- tool | compaction | owner | import
        origin       TEXT NOT NULL DEFAULT '',   -- the sender it came from (channel:id); unlink moves it back
        session_key  TEXT,
        created_at   REAL NOT NULL,
        updated_at   REAL NOT NULL,
        UNIQUE (scope, norm)
    );
    CREATE INDEX memories_by_age ON memories(scope, pinned, updated_at);
    CREATE VIRTUAL TABLE memories_fts USING fts5(
        text, content='memories', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
        INSERT INTO memories_fts(rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
        INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;
    CREATE TRIGGER memories_fts_update AFTER UPDATE OF text ON memories BEGIN
        INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO memories_fts(rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TABLE memory_links (
        identity     TEXT PRIMARY KEY,           -- channel:sender id
        person       TEXT NOT NULL,              -- the identity whose scope the person's memories use
        linked_at    REAL NOT NULL
    );
    CREATE INDEX memory_links_person ON memory_links(person);
    CREATE VIRTUAL TABLE turns_fts USING fts5(
        user_text, reply, content='turns', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER turns_fts_insert AFTER INSERT ON turns BEGIN
        INSERT INTO turns_fts(rowid, user_text, reply) VALUES (new.id, new.user_text, new.reply);
    END;
    CREATE TRIGGER turns_fts_delete AFTER DELETE ON turns BEGIN
        INSERT INTO turns_fts(turns_fts, rowid, user_text, reply) VALUES ('delete', old.id, old.user_text, old.reply);
    END;
    CREATE TRIGGER turns_fts_update AFTER UPDATE OF user_text, reply ON turns BEGIN
        INSERT INTO turns_fts(turns_fts, rowid, user_text, reply) VALUES ('delete', old.id, old.user_text, old.reply);
        INSERT INTO turns_fts(rowid, user_text, reply) VALUES (new.id, new.user_text, new.reply);
    END;
    INSERT INTO turns_fts(turns_fts) VALUES ('rebuild');
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)

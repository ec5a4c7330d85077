"""`AgentboxError`: the one root of the exceptions agentbox raises on purpose; the tree is in its docstring.

Import-light (nothing but `typing`): every module that defines an error imports it.
"""

from __future__ import annotations

from typing import ClassVar


class AgentboxError(Exception):
    """An error agentbox raises on purpose, phrased for the person who has to act on it.

    The CLI catches this root in one place and prints `agentbox: <message>`, exiting with
    `exit_code` (1 unless a subclass says otherwise). The whole tree, where each is defined::

        AgentboxError
        ├── ConfigError           config: config.toml or the environment is wrong (exit 2)
        │   └── MissingApiKey     config: no AI/ML API key anywhere
        ├── InputError            vision (also ValueError): a bad image or message, before any model call (exit 2)
        ├── AimlapiError          aimlapi: an images/video/other non-chat AI/ML API call failed
        ├── TranscriptionFailed   voice.stt: the speech-to-text service gave no transcript
        ├── SpeechFailed          voice.tts: the text-to-speech service gave no audio
        ├── ConnectorError        messages: a platform cannot be reached, or refused a message
        │   └── TelegramSendError connectors.telegram.stream: a Telegram send failed
        ├── MediaTooLarge         messages: an inbound file is over the size limit
        ├── MediaUnavailable      messages: an inbound file could not be downloaded
        ├── MemoryInputError      memory.model (also ValueError): a memory text, scope or import file is unusable (exit 2)
        ├── PairingError          gateway.access: an approval or revocation was refused
        ├── AlreadyRunning        gateway.homelock: another gateway runs on this AGENTBOX_HOME
        ├── ControlError          gateway.control: the local endpoint cannot be served as configured
        ├── BodyTooLarge          gateway.requestbody: a request to the gateway's server is over its route's limit
        ├── ApiError              api.wire: an OpenAI-compatible API request refused (OpenAI's error shape)
        ├── NoConnectorCanWork    gateway.lifecycle: every enabled connector failed for good
        ├── NoGateway             cli.gateway_client: no gateway answers for this AGENTBOX_HOME
        ├── ScheduleError         schedules.timing (also ValueError): a schedule cannot be made or changed as asked (exit 2)
        ├── BadRequest            web.actions: a web panel request lacks a field or names an unknown channel
        ├── SchemaTooNew          store.db (also sqlite3.DatabaseError): a newer agentbox wrote the database (exit 3)
        ├── SkillError            skillkit.api: a skill helper was used against the rules
        │   ├── UndeclaredSecret  skillkit.api (also KeyError): a secret the skill did not declare
        │   └── NotInSkill        skillkit.api (also RuntimeError): a helper called outside a skill's tool
        ├── SkillFormatError      skillkit.frontmatter (also ValueError): a SKILL.md cannot be read
        ├── ToolsImportError      skillkit.toolsets: a skill's tools.py cannot be imported
        ├── ScaffoldError         skillkit.scaffold (also ValueError): `agentbox skills new` cannot create it (exit 2)
        ├── ExecRefused           skillkit.execution: the exec tool refused a command; nothing ran
        ├── McpUnavailable        mcpkit.server: an MCP server cannot serve a call now (a failed tool call)
        ├── OutsideSkill          skillkit.skillfiles: a path leaves the skill's folder; nothing was read
        ├── RequestRefused        skillkit.httptool: http_request broke a rule (secret, host); nothing was sent
        ├── InstallError          skillkit.install: `agentbox skills install` cannot install it as given
        └── BlockedURL            skillkit.netguard (also ValueError): a URL tools may not reach
            └── UnresolvableHost  skillkit.netguard: the host does not resolve

    Not under this root, on purpose: pydantic-ai's own exceptions, which pass through a turn
    (`ModelRetry` asks the model to try again; `ModelHTTPError`, `UsageLimitExceeded` end a turn
    and become one honest sentence), and Python's own (`OSError`, `sqlite3.DatabaseError`, ...).
    """

    exit_code: ClassVar[int] = 1

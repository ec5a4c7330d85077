"""The channel registry: every entry is consistent, config is built from it, and a new channel
needs nothing but its package and one registry entry (everything else iterates the registry)."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agentbox.channels import CHANNEL_NAMES, CHANNELS, ChannelSpec, get_channel
from agentbox.config import ChannelConfig, Config, parse_config
from agentbox.configbase import ChannelsSection
from agentbox.messages import Connector, ConnectorStatus
from agentbox.tokens import TokenSpec
from agentbox.voice.audio import FORMAT_OF_EXTENSION

ROOT = Path(__file__).resolve().parent.parent
SDKS = ("telegram", "slack_bolt", "slack_sdk", "discord", "pydantic_ai", "openai")


def _well_formed(spec: TokenSpec) -> str:
    """A token of the right shape for each kind the registry knows (the factories check shapes)."""
    samples = [
        "123456789:AAHfakeTelegramTokenValue_abcdefghij",
        "xoxb-1111-2222-fakeslackbottoken",
        "xapp-1-A111-2222-fakeslackapptoken",
        "0123456789abcdef0123456789abcdef",
        "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GaBcDe.abcdefghijklmnopqrstuvwxyz",
    ]
    return next(sample for sample in samples if spec.shape.match(sample))


@pytest.mark.parametrize("spec", CHANNELS, ids=CHANNEL_NAMES)
def test_registry_entry_is_consistent(spec: ChannelSpec) -> None:
    model = spec.settings_model()
    assert issubclass(model, ChannelConfig) and model is not ChannelConfig
    config = Config()
    settings = spec.settings_in(config)
    assert type(settings) is model and getattr(config.channels, spec.name) is settings
    # Its token specs name the `*_env` keys of its model, every one of them (log redaction relies on it).
    tokens = spec.token_specs(config)
    env_keys = {name for name in model.model_fields if name.endswith("_env")}
    assert tokens and {t.env_name for t in tokens} == {getattr(settings, key) for key in env_keys}
    assert {t.channel for t in tokens} == {spec.name} and all(t.source for t in tokens)
    # The factory imports, builds a connector from well-formed tokens without touching the network.
    env = {t.env_name: _well_formed(t) for t in tokens}
    connector = spec.create(config, env)
    assert isinstance(connector, Connector) and connector.name == spec.name
    assert isinstance(connector.status, ConnectorStatus) and str(connector.status) == "stopped"  # not started yet
    assert spec.voice_format in FORMAT_OF_EXTENSION.values()  # a format the TTS API takes
    for path in (spec.connector, spec.online_check or spec.connector):
        module, _, attribute = path.partition(":")
        assert callable(getattr(importlib.import_module(module), attribute)), path


@pytest.mark.parametrize("spec", CHANNELS, ids=CHANNEL_NAMES)
def test_missing_token_is_a_config_error_naming_the_env_var(spec: ChannelSpec) -> None:
    from agentbox.config import ConfigError

    config = Config()
    with pytest.raises(ConfigError, match=re.escape(spec.token_specs(config)[0].env_name)):
        spec.create(config, {})


def test_channels_table_is_built_from_the_registry() -> None:
    fields = Config.model_fields["channels"].annotation
    assert isinstance(fields, type) and issubclass(fields, ChannelsSection)
    assert tuple(fields.model_fields) == CHANNEL_NAMES
    text = "".join(f"[channels.{name}]\nenabled = true\ngroups = [-100{i}]\n" for i, name in enumerate(CHANNEL_NAMES))
    config = parse_config(text, source=Path("c.toml"))
    assert [get_channel(name).settings_in(config).groups for name in CHANNEL_NAMES] == [
        [f"-100{i}"] for i in range(len(CHANNEL_NAMES))
    ]
    with pytest.raises(KeyError, match="choose from telegram, slack, discord"):
        get_channel("irc")


def test_every_channel_package_ships_in_the_wheel() -> None:
    # Editable installs find any folder under connectors/; a wheel only the packages pyproject lists.
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {f"agentbox.connectors.{p.parent.name}" for p in (ROOT / "connectors").glob("*/__init__.py")}
    registered = {spec.connector.partition(":")[0].rpartition(".")[0] for spec in CHANNELS}
    assert registered <= folders and folders <= listed


def _python(code: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_the_registry_and_the_config_import_no_sdk() -> None:
    found = _python(
        "import json, sys\n"
        "import agentbox.channels\n"
        "light = sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'agentbox'))\n"
        "import agentbox.config\n"
        f"sdks = sorted(m for m in sys.modules if m.split('.')[0] in {SDKS!r})\n"
        "print(json.dumps({'light': light, 'sdks': sdks}))\n"
    )
    assert found["sdks"] == []
    assert found["light"] == ["agentbox", "agentbox.channels"]  # `agentbox --help` names channels without pydantic


# -- a fourth channel (tests/fourth_channel.py plays its package) ---------------------------------
FOURTH_CHANNEL = """
import json
from pathlib import Path
import agentbox.channels as registry
registry.CHANNELS += (
    registry.ChannelSpec("echo", "tests.fourth_channel:EchoConfig", "tests.fourth_channel:create", voice_format="opus"),
)
registry.CHANNEL_NAMES += ("echo",)

from agentbox.cli.pairing_cmd import CHANNEL_HELP, _channel
from agentbox.config import parse_config
from agentbox.gateway.lifecycle import enabled_connectors
from agentbox.gateway.routing import channel_config
from agentbox.logs import secret_env_names
from agentbox.ops.doctor import check_tokens
from agentbox.ops.onboarding import OnboardAnswers, merge_answers
from agentbox.ops.servicesecrets import needed_secrets
from agentbox.voice.tool import speech_format

text = merge_answers('[channels.echo]\\ntoken_env = "MY_ECHO"\\ngroups = ["g1"]\\n', OnboardAnswers(enable=["echo"]))
config = parse_config(text, source=Path("config.toml"))
connectors = enabled_connectors(config, {"MY_ECHO": "echo-1"})
print(json.dumps({
    "help": CHANNEL_HELP,
    "pairing": _channel("Echo"),
    "connectors": {name: factory().name for name, factory in connectors.items()},
    "groups": channel_config(config, "echo").groups,
    "redacted": "MY_ECHO" in secret_env_names(config),
    "needed": needed_secrets(config)[1:],
    "doctor": [(c.name, c.status, c.detail) for c in check_tokens(config)],
    "speech": {name: speech_format(name) for name in ("echo", "telegram", "slack", "cli")},
}))
"""


def test_a_fourth_channel_needs_only_its_package_and_one_registry_entry() -> None:
    found = _python(FOURTH_CHANNEL)
    assert found["help"] == "telegram, slack, discord or echo"
    assert found["pairing"] == "echo"
    assert found["connectors"] == {"echo": "echo"}
    assert found["groups"] == ["g1"]
    assert found["redacted"] is True
    assert found["needed"] == [["MY_ECHO", "echo bot token"]]
    assert found["doctor"] == [["echo bot token", "fail", "MY_ECHO is not set"]]
    # Spoken answers and the speak tool ask for the format its declaration names (its voice notes).
    assert found["speech"] == {"echo": "opus", "telegram": "opus", "slack": "mp3", "cli": "mp3"}

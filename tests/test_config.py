"""Configuration: defaults, env overrides, errors that name the file and key, a complete example."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args, get_origin

import pytest
from pydantic import BaseModel

from agentbox.config import Config, ConfigError, MissingApiKey, load_config, parse_config, require_api_key

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


def _keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        path = f"{prefix}{name}"
        annotation = field.annotation
        if get_origin(annotation) is list:  # [[hooks]], [[bindings]]: the keys of one entry
            annotation = get_args(annotation)[0]
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= _keys(annotation, path + ".")
        else:
            keys.add(path)
    return keys


def test_example_config_is_valid_and_documents_every_key() -> None:
    text = EXAMPLE.read_text()
    parse_config(text, source=EXAMPLE)
    documented = set(re.findall(r"^#?\s*([a-z_]+)\s*=", text, flags=re.MULTILINE))
    leaves = {key.rsplit(".", 1)[-1] for key in _keys(Config) if not key.startswith("agents")}
    leaves |= {key.rsplit(".", 1)[-1] for key in _keys(type(Config().agent()))}
    missing = sorted(leaves - documented - {"agents", "bindings", "prices", "config"})
    assert missing == []


def test_no_file_means_defaults(home: Path) -> None:
    config = load_config(env={})
    assert config.aimlapi.base_url == "https://api.aimlapi.com/v1"
    assert config.gateway.host == "127.0.0.1" and config.gateway.port == 18789
    assert config.channels.telegram.dm_policy == "pairing" and config.channels.telegram.group_policy == "mention"
    with pytest.raises(MissingApiKey, match="AIMLAPI_API_KEY"):
        require_api_key(config)


def test_env_overrides_file(home: Path) -> None:
    (home / "config.toml").write_text('[aimlapi]\napi_key = "file"\nbase_url = "https://proxy.example/v1/"\n')
    config = load_config(env={"AIMLAPI_API_KEY": "env"})
    assert config.api_key() == "env" and config.aimlapi.base_url == "https://proxy.example/v1"
    config = load_config(env={"AIMLAPI_BASE_URL": "http://127.0.0.1:1234/v1"})
    assert config.api_key() == "file" and config.aimlapi.base_url == "http://127.0.0.1:1234/v1"
    with pytest.raises(ConfigError, match="AIMLAPI_BASE_URL"):
        load_config(env={"AIMLAPI_BASE_URL": "ftp://nope"})


def test_secret_never_echoed_in_errors(home: Path) -> None:
    path = home / "config.toml"
    path.write_text("[aimlapi]\napi_key = 12345678\n")
    with pytest.raises(ConfigError) as caught:
        load_config(env={})
    assert "aimlapi.api_key" in str(caught.value) and "12345678" not in str(caught.value)


def test_ids_are_strings_and_main_agent_always_exists() -> None:
    config = parse_config(
        "[channels.telegram]\nallow_from = [835750362]\n[agents.work]\nmodel = 'gpt-4o'\n", source=Path("c.toml")
    )
    assert config.channels.telegram.allow_from == ["835750362"]
    assert set(config.agents) == {"main", "work"} and config.agent("unknown").model == config.agents["main"].model

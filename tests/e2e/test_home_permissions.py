"""After a realistic run with a permissive umask, everything under AGENTBOX_HOME is the owner's alone.

A gateway answers a photo and a generated image in Telegram, then the CLI onboards, scaffolds a
skill, generates an image and rotates its log. Then every file and folder under the home is
checked: no group or other permission bit anywhere (database, WAL/SHM, .env, gateway.token,
media, logs, skill scaffolds, lock files).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.gatewayproc import GatewayProcess, gateway_config, gateway_env, wait_for
from tests.fakes.aimlapi import Reply, ToolCall
from tests.helpers import png_bytes, run_cli

ALICE = 835750362


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # what most desktops use: files 0644, folders 0755 unless agentbox says otherwise
    try:
        yield
    finally:
        os.umask(previous)


def too_open(home: Path) -> dict[str, str]:
    found = {}
    for path in [home, *home.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode & 0o077:
            found[str(path.relative_to(home))] = oct(mode)
    return found


@pytest.mark.slow
def test_everything_agentbox_creates_is_owner_only(
    permissive_umask: None, processes, home: Path, fake_aimlapi, fake_telegram
) -> None:
    home.rmdir()  # the first run creates it, as on a fresh machine
    env = gateway_env(home, fake_aimlapi, fake_telegram)
    done = run_cli(
        "onboard", "--non-interactive", "--enable", "telegram", "--telegram-token", fake_telegram.token, env=env
    )
    assert done.returncode == 0, done.stderr
    # The fakes' addresses; rewriting the file agentbox created keeps agentbox's mode for it.
    (home / "config.toml").write_text(
        gateway_config(fake_telegram, "dm_policy = 'open'") + "[logging]\nfile_max_bytes = 10000\nfile_backups = 2\n"
    )

    fake_aimlapi.script(
        Reply(text="a red square"),
        Reply(tool_calls=[ToolCall("generate_image", {"prompt": "a cat"})]),
        Reply(text="Here is your cat."),
    )
    gateway = GatewayProcess(home, env)
    processes.append(gateway)
    gateway.wait_ready()
    fake_telegram.push_photo(ALICE, png_bytes(64, 64), caption="what is this?")
    wait_for(lambda: "a red square" in fake_telegram.sent_messages(ALICE), what="the photo answer")
    fake_telegram.push_text(ALICE, "draw a cat")
    wait_for(lambda: "Here is your cat." in " ".join(fake_telegram.sent_messages(ALICE)), what="the image turn")
    assert gateway.terminate() == 0

    assert run_cli("skills", "new", "greeter", env=env).returncode == 0
    fake_aimlapi.script(Reply(tool_calls=[ToolCall("generate_image", {"prompt": "a dog"})]), Reply(text="Done."))
    done = run_cli("-v", "agent", "-m", "draw a dog", env=env)
    assert done.returncode == 0 and ".png" in done.stdout, done.stderr
    for _ in range(8):  # verbose turns fill the 10 kB log until it rotates
        assert run_cli("-vv", "agent", "-m", "hello " * 200, env=env).returncode == 0
        if (home / "logs" / "agentbox.log.1").exists():
            break

    created = {str(p.relative_to(home)) for p in home.rglob("*")}
    expected = {".env", "config.toml", "gateway.token", "agentbox.db", "logs/agentbox.log.1", "media"}
    assert expected <= created, sorted(created)
    assert any(name.startswith("workspace/skills/greeter/") for name in created)
    assert any(name.startswith("media/") and name.endswith(".png") for name in created)
    loose = too_open(home)
    assert not loose, "\n".join(f"{mode} {name}" for name, mode in sorted(loose.items()))

"""The README's Telegram five-minute path, timed step by step against the local fakes.

    python -m bench.first_run [--python PATH] [--runs N]

Follows what a new user does: `onboard` with the key exported in the shell, `doctor`, `gateway
run`, a first message from their phone (a pairing code comes back), `pairing approve`, and the
first real answer. `--python` runs another agentbox checkout's interpreter (its venv), so an
older version can be timed the same way in the same session; the fakes are this checkout's.
Prints the median of each step over `--runs` runs. Not a test: figures on a shared machine vary.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.aimlapi import FakeAimlapi  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402

PHONE = 835750362  # the owner's Telegram user id


def wait(condition: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.01)
    return value


def cli(python: str, env: dict[str, str], *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    # cwd: the home's parent, so `-m agentbox...` imports the interpreter's agentbox, not this checkout's
    cwd = Path(env["AGENTBOX_HOME"]).parent
    done = subprocess.run([python, "-m", "agentbox.cli.main", *args], env=env, cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - started, done


def connector_state(home: Path) -> str | None:
    try:
        bound = json.loads((home / "gateway.json").read_text())
        token = (home / "gateway.token").read_text().strip()
        request = urllib.request.Request(
            f"http://127.0.0.1:{bound['port']}/status", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=2) as response:
            return str(json.loads(response.read())["connectors"]["telegram"]["state"])
    except (OSError, ValueError, KeyError):
        return None


def point_at_fakes(config: Path, telegram_url: str) -> None:
    import tomlkit

    document = tomlkit.parse(config.read_text())
    document["channels"]["telegram"]["api_base_url"] = telegram_url  # type: ignore[index]
    document["channels"]["telegram"]["poll_timeout"] = 1  # type: ignore[index]
    document.setdefault("gateway", tomlkit.table())["port"] = 0  # type: ignore[index]
    config.write_text(tomlkit.dumps(document))


def key_stored(home: Path) -> bool:
    env_file = home / ".env"
    return env_file.exists() and "AIMLAPI_API_KEY=" in env_file.read_text(errors="replace")


def one_run(python: str) -> dict[str, float]:
    figures: dict[str, float] = {}
    with FakeAimlapi() as api, FakeTelegram() as telegram, tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        run_dir = Path(tmp) / "run"
        run_dir.mkdir(mode=0o700)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMLAPI_", "AGENTBOX_", "TELEGRAM_"))}
        env.update(
            AGENTBOX_HOME=str(home),
            AIMLAPI_API_KEY="sk-first-run-0123456789",
            AIMLAPI_BASE_URL=api.url + "/v1",
            XDG_RUNTIME_DIR=str(run_dir),
        )
        onboard = ["onboard", "--non-interactive", "--api-key-env-only", "--enable", "telegram"]
        onboard += ["--telegram-token", telegram.token]
        figures["onboard"], done = cli(python, env, *onboard, "--store-key")
        if done.returncode != 0 and "--store-key" in done.stderr:  # a version without the flag
            figures["onboard"], done = cli(python, env, *onboard)
        if done.returncode != 0:
            raise SystemExit(f"onboard failed: {done.stderr}")
        point_at_fakes(home / "config.toml", telegram.url)
        figures["doctor"], _ = cli(python, env, "doctor")

        gateway_env = dict(env)
        if key_stored(home):
            gateway_env.pop("AIMLAPI_API_KEY")  # a user service does not see the shell's environment
        else:
            print("  note: the key is only in the shell; a service started this way would have no key")
        started = time.perf_counter()
        with open(Path(tmp) / "gateway.log", "wb") as log:
            command = [python, "-m", "agentbox.cli.main", "gateway", "run"]
            gateway = subprocess.Popen(command, env=gateway_env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT)
            try:
                wait(lambda: connector_state(home) == "ready", "the gateway")
                figures["gateway ready"] = time.perf_counter() - started

                started = time.perf_counter()
                telegram.push_text(PHONE, "hello?")
                sent = wait(lambda: [m for m in telegram.sent_messages(PHONE) if "pairing approve" in m], "a code")
                figures["pairing code"] = time.perf_counter() - started
                code = re.search(r"pairing approve telegram (\w+)", sent[0])
                assert code is not None
                figures["pairing approve"], done = cli(python, env, "pairing", "approve", "telegram", code.group(1))
                started = time.perf_counter()
                wait(lambda: any("approved" in m for m in telegram.sent_messages(PHONE)), "the approval notice")
                figures["approval notice"] = time.perf_counter() - started

                started = time.perf_counter()
                telegram.push_text(PHONE, "what can you do?")
                wait(lambda: any("what can you do?" in m for m in telegram.sent_messages(PHONE)), "the first answer")
                figures["first answer"] = time.perf_counter() - started
            finally:
                gateway.terminate()
                gateway.wait(30)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable, help="the interpreter of the agentbox to time")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = [one_run(args.python) for _ in range(args.runs)]
    print(f"first-run path, median of {args.runs} runs ({args.python}):")
    total = 0.0
    for step in runs[0]:
        median = statistics.median(run[step] for run in runs)
        total += median
        print(f"  {step:<16} {median * 1000:8.0f} ms")
    print(f"  {'total':<16} {total * 1000:8.0f} ms")


if __name__ == "__main__":
    main()

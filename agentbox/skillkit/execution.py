"""Running a script that ships inside a skill folder (the `exec` tool), with hard limits.

Risk, plainly: a script runs as the agentbox user with that user's file access and network.
What holds it in: it must be a file inside the skill's own folder (symlinks resolved, `..`
refused), it runs from an argument list (no shell, so no injection through arguments), it
gets an environment holding only the variables the skill declares plus a minimal PATH/HOME,
it is killed (with its process group) after a timeout, and its output is capped. Nothing
stops a script from doing harm with the access it has, so `allow_exec` is off by default and
should be turned on only for agents whose skills you have read.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from agentbox.errors import AgentboxError
from agentbox.skillkit.skillfiles import OutsideSkill, resolve_inside

MINIMAL_PATH = "/usr/local/bin:/usr/bin:/bin"
INTERPRETERS: dict[str, tuple[str, ...]] = {
    ".py": (sys.executable,),
    ".sh": ("/bin/sh",),
    ".bash": ("bash",),
    ".js": ("node",),
    ".mjs": ("node",),
}


class ExecRefused(AgentboxError):
    """The request breaks a rule (outside the skill folder, not a file); nothing was run."""


@dataclass(frozen=True, slots=True)
class ExecResult:
    """How a skill script ended: exit code (None when killed on timeout) and its capped output;
    `render()` is what the `exec` tool answers."""

    exit_code: int | None  # None: killed on timeout
    stdout: str
    stderr: str
    truncated: bool
    timed_out: bool

    def render(self) -> str:
        lines = [f"exit code: {'timeout (killed)' if self.timed_out else self.exit_code}"]
        if self.stdout:
            lines.append("stdout:\n" + self.stdout)
        if self.stderr:
            lines.append("stderr:\n" + self.stderr)
        if self.truncated:
            lines.append("(output truncated)")
        return "\n".join(lines)


def resolve_script(skill_dir: Path, relative: str) -> Path:
    """The script's real path, refusing anything that is not a regular file inside the skill folder."""
    try:
        target = resolve_inside(skill_dir, relative)
    except OutsideSkill as exc:
        raise ExecRefused(str(exc)) from None
    if not target.is_file():
        raise ExecRefused(f"{relative!r} is not a file in the skill folder")
    return target


def command_for(script: Path, args: Sequence[str]) -> list[str]:
    interpreter = INTERPRETERS.get(script.suffix.lower())
    if interpreter is not None:
        return [*interpreter, str(script), *args]
    if not os.access(script, os.X_OK):
        raise ExecRefused(f"{script.name} is not executable and has no known interpreter")
    return [str(script), *args]


def script_env(declared: Mapping[str, str], home: Path) -> dict[str, str]:
    """Only the declared variables, plus what a script needs to start at all."""
    env = {"PATH": MINIMAL_PATH, "HOME": str(home), "LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}
    env.update(declared)
    return env


async def _read_capped(stream: asyncio.StreamReader, limit: int, sink: list[bytes]) -> bool:
    """Keep at most `limit` bytes; keep draining so the child never blocks on a full pipe."""
    kept = 0
    truncated = False
    while chunk := await stream.read(65536):
        if kept < limit:
            sink.append(chunk[: limit - kept])
            truncated = truncated or kept + len(chunk) > limit
            kept += min(len(chunk), limit - kept)
        else:
            truncated = True
    return truncated


async def run_script(
    command: list[str], *, cwd: Path, env: dict[str, str], time_limit: float, output_limit: int
) -> ExecResult:
    os.makedirs(cwd, mode=0o700, exist_ok=True)
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=str(cwd),
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its own process group, so a timeout kills its children too
    )
    assert process.stdout is not None and process.stderr is not None
    out: list[bytes] = []
    err: list[bytes] = []
    readers = asyncio.gather(
        _read_capped(process.stdout, output_limit, out), _read_capped(process.stderr, output_limit // 4, err)
    )
    timed_out = False
    try:
        truncated_flags = await asyncio.wait_for(asyncio.shield(readers), time_limit)
        await asyncio.wait_for(process.wait(), max(1.0, time_limit / 10))
    except TimeoutError:
        timed_out = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        truncated_flags = await readers
    return ExecResult(
        exit_code=None if timed_out else process.returncode,
        stdout=b"".join(out).decode("utf-8", "replace"),
        stderr=b"".join(err).decode("utf-8", "replace"),
        truncated=any(truncated_flags),
        timed_out=timed_out,
    )

"""`agentbox jobs list|wait`: background jobs (video generation)."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from agentbox.cli.common import ago, config_or_exit, fail, print_json, run_async, with_store

app = typer.Typer(help="Background jobs such as video generation.", no_args_is_help=True)


def _describe(job: Any) -> str:
    result = job.result or {}
    if job.status == "error":
        return job.error or ""
    return str(result.get("path") or result.get("url") or "")


@app.command("list")
def list_jobs(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many, newest first.")] = 50,
) -> None:
    """Jobs, newest first: id, kind, status, session, age, and the result or error."""

    jobs: list[Any] = with_store(lambda store: store.jobs.list(limit=limit))
    if as_json:
        print_json(
            [
                {
                    "id": j.id,
                    "kind": j.kind,
                    "status": j.status,
                    "session": j.session_key,
                    "remote_id": j.remote_id,
                    "prompt": j.request.get("prompt"),
                    "result": j.result,
                    "error": j.error,
                    "created_at": j.created_at,
                    "updated_at": j.updated_at,
                }
                for j in jobs
            ]
        )
        return
    if not jobs:
        typer.echo("No jobs yet.")
        return
    from agentbox.cli.tables import print_keyed

    now = time.time()
    rows = [(j.id, j.kind, j.status, j.session_key, ago(now - j.created_at), _describe(j)) for j in jobs]
    print_keyed(("id", "kind", "status", "session", "age", "result / error"), rows)


@app.command("wait")
def wait(job_id: str) -> None:
    """Poll one job in the foreground until it finishes; a video with no chat is saved to AGENTBOX_HOME/media."""
    config = config_or_exit()

    async def run() -> Any:
        from agentbox.aimlapi import AimlapiClient
        from agentbox.gateway.jobs import JobRunner
        from agentbox.messages import Address, Outbound
        from agentbox.store import Store

        store = await Store.open(config.database_path)
        client = AimlapiClient(config)

        async def show(_: Address, outbound: Outbound) -> None:
            typer.echo(outbound.text)  # no connector here: print what the chat would have received

        runner = JobRunner(store, client, config, show, progress_every=30.0)
        try:
            job = await store.jobs.get(job_id)
            if job is None:
                return None
            if job.address is not None and job.active:
                fail(f"job {job_id} belongs to a {job.address.channel} chat: the gateway delivers it there", 1)
            await runner.start(resume=False)  # only this job: the gateway owns the others
            runner.watch(job_id)
            return await runner.wait(job_id)
        finally:
            await runner.stop()
            await client.aclose()
            await store.close()

    job = run_async(run())
    if job is None:
        fail(f"no job {job_id!r} (see `agentbox jobs list`)", 1)
    typer.echo(f"{job.id}: {job.status} {_describe(job)}")
    raise typer.Exit(0 if job.status == "delivered" else 1)

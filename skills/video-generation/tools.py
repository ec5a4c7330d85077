"""Video generation (API-NOTES §7): create the remote job, persist it, let the JobRunner finish it."""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic_ai import RunContext

from agentbox.aimlapi import AimlapiError, normalize_model_id
from agentbox.turn.deps import TurnDeps

__all__ = ["generate_video"]


async def generate_video(
    ctx: RunContext[TurnDeps],
    prompt: str,
    aspect_ratio: Literal["16:9", "9:16"] = "16:9",
    duration: int | None = None,
) -> str:
    """Start rendering a short video from a text prompt. Returns at once; the video is sent to the chat when ready.

    Args:
        prompt: What happens in the video: subject, action, camera, setting, style.
        aspect_ratio: 16:9 (landscape) or 9:16 (vertical).
        duration: Length in seconds; omit for the model's default.
    """
    deps = ctx.deps
    model = normalize_model_id(deps.config.skills.video_model)
    body: dict[str, Any] = {"model": model, "prompt": prompt, "aspect_ratio": aspect_ratio}
    if duration is not None:
        body["duration"] = duration
    try:
        created = await deps.aimlapi.post_json("/v2/video/generations", body)
    except AimlapiError as exc:
        return f"The video could not be started: {exc.message}. Tell the user plainly."
    remote_id = created.get("id") or created.get("generation_id") if isinstance(created, dict) else None
    if not remote_id:
        return "The video service did not return a job id; the video was not started. Tell the user."
    if deps.store is None:
        return "Video started remotely, but this agentbox has no job store to track it; it cannot be delivered."
    job = await deps.store.jobs.create(
        "video",
        session_key=deps.session.key,
        address=deps.session.address,
        request=body,
        remote_id=str(remote_id),
        status=str(created.get("status") or "queued"),
        next_poll_at=time.time() + deps.config.skills.video_poll_interval,
    )
    if deps.jobs is not None:
        deps.jobs.watch(job.id)
        if deps.session.address is not None and not deps.jobs.can_send(deps.session.address):
            return (  # a web chat or an API caller: nothing can be pushed to it later
                f"Video job {job.id} started with {model}. It takes a few minutes; when ready it is kept on the "
                "agentbox machine and noted in this conversation (the owner finds it in `agentbox jobs list` and "
                "the web panel's Operations page). Tell the user that in one sentence."
            )
        return (
            f"Video job {job.id} started with {model}. It takes a few minutes; it will be sent to this chat "
            "automatically when ready. Tell the user that in one sentence."
        )
    if deps.session.address is not None:
        return f"Video job {job.id} started with {model}; it will be delivered to this chat when the gateway runs."
    return (
        f"Video job {job.id} started with {model}. There is no chat to deliver to here: tell the user to run "
        f"`agentbox jobs wait {job.id}` to wait for it and save the file (`agentbox jobs list` shows its status)."
    )

"""Image generation and editing through the AI/ML API (API-NOTES §6).

Request fields differ per model family; responses come as `data[].url`, `data[].b64_json` or
(Flux / fal models) `images[].url`. Generated media is downloaded at once (CDN links expire) and
put in the turn's outbox, which the connector delivers as a photo.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

from pydantic_ai import RunContext
from pydantic_ai.messages import BinaryContent, ModelRequest, UserPromptPart

from agentbox.aimlapi import AimlapiError, normalize_model_id
from agentbox.turn.deps import TurnDeps

Aspect = Literal["square", "portrait", "landscape"]

_OPENAI_SIZES = {"square": "1024x1024", "portrait": "1024x1536", "landscape": "1536x1024"}
_FAL_PRESETS = {"square": "square_hd", "portrait": "portrait_16_9", "landscape": "landscape_16_9"}
_RATIOS = {"square": "1:1", "portrait": "9:16", "landscape": "16:9"}
_PRESET_FAMILIES = ("flux/", "flux-", "blackforestlabs/", "stable-diffusion", "recraft")

__all__ = ["edit_image", "generate_image"]


def _is_openai(model: str) -> bool:
    return model.startswith(("openai/", "gpt-image", "dall-e"))


def size_fields(model: str, aspect: Aspect) -> dict[str, Any]:
    """The size/aspect field this model family understands."""
    if _is_openai(model):
        return {"size": _OPENAI_SIZES[aspect]}
    if model.startswith(_PRESET_FAMILIES) and "kontext" not in model:
        return {"image_size": _FAL_PRESETS[aspect]}
    if model.startswith("bytedance/"):
        return {}  # Seedream takes resolutions ("2K"); its default is fine
    return {"aspect_ratio": _RATIOS[aspect]}


def sniff_media_type(data: bytes, fallback: str = "image/png") -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return fallback


async def collect_images(ctx: RunContext[TurnDeps], payload: Any) -> list[tuple[bytes, str]]:
    """Bytes and media type of every image in either response shape."""
    if not isinstance(payload, dict):
        raise AimlapiError(None, "the images endpoint answered with an unexpected body")
    out: list[tuple[bytes, str]] = []
    entries = [item for item in payload.get("data") or [] if isinstance(item, dict)]
    entries += [item for item in payload.get("images") or [] if isinstance(item, dict)]
    for item in entries:
        if item.get("url"):
            data, media_type = await ctx.deps.aimlapi.download(str(item["url"]))
            out.append((data, media_type if media_type.startswith("image/") else sniff_media_type(data)))
        elif item.get("b64_json"):
            data = base64.b64decode(str(item["b64_json"]))
            out.append((data, sniff_media_type(data)))
    if not out:
        raise AimlapiError(None, "the images endpoint returned no image")
    return out


def _deliver(ctx: RunContext[TurnDeps], images: list[tuple[bytes, str]], model: str) -> str:
    for data, media_type in images:
        ext = media_type.split("/")[-1].replace("jpeg", "jpg")
        ctx.deps.outbox.add("image", data=data, media_type=media_type, filename=f"image.{ext}")
    count = len(images)
    return f"{count} image{'s' if count > 1 else ''} made with {model} and attached; the user will receive it."


async def generate_image(ctx: RunContext[TurnDeps], prompt: str, aspect: Aspect = "square") -> str:
    """Generate an image from a text prompt and send it to the user.

    Args:
        prompt: A detailed description of the image (subject, style, lighting, composition).
        aspect: square, portrait or landscape.
    """
    model = normalize_model_id(ctx.deps.config.skills.image_model)
    body = {"model": model, "prompt": prompt, **size_fields(model, aspect)}
    await ctx.deps.progress("drawing…")
    try:
        payload = await ctx.deps.aimlapi.post_json("/v1/images/generations", body)
        images = await collect_images(ctx, payload)
    except AimlapiError as exc:
        return f"Image generation failed: {exc.message}. Tell the user; no image was sent."
    return _deliver(ctx, images, model)


def latest_user_image(ctx: RunContext[TurnDeps]) -> tuple[bytes, str] | None:
    """The photo to edit: one sent with this message, else the latest one earlier in the chat."""
    for attachment in reversed(ctx.deps.images):
        if attachment.data:
            return attachment.data, attachment.media_type or sniff_media_type(attachment.data)
    for message in reversed(ctx.messages):
        if not isinstance(message, ModelRequest):
            continue
        for part in reversed(message.parts):
            if isinstance(part, UserPromptPart) and not isinstance(part.content, str):
                for item in reversed(list(part.content)):
                    if isinstance(item, BinaryContent) and item.is_image and item.data:
                        return item.data, item.media_type
    return None


async def edit_image(ctx: RunContext[TurnDeps], prompt: str) -> str:
    """Edit the photo the user sent (the most recent one) as asked, and send the result.

    Args:
        prompt: The change to make, e.g. "make the sky purple, keep everything else".
    """
    found = latest_user_image(ctx)
    if found is None:
        return "No photo to edit: ask the user to send the photo they want changed."
    data, media_type = found
    model = normalize_model_id(ctx.deps.config.skills.image_edit_model)
    await ctx.deps.progress("editing the photo…")
    try:
        if _is_openai(model):
            ext = media_type.split("/")[-1]
            payload = await ctx.deps.aimlapi.request_json(
                "POST",
                "/v1/images/edits",
                data={"model": model, "prompt": prompt},
                files={"image": (f"image.{ext}", data, media_type)},
            )
        else:
            # Other families edit through the generations endpoint with the image inline.
            data_url = f"data:{media_type};base64,{base64.b64encode(data).decode()}"
            field = {"image_url": data_url} if "kontext" in model else {"image_urls": [data_url]}
            payload = await ctx.deps.aimlapi.post_json(
                "/v1/images/generations", {"model": model, "prompt": prompt, **field}
            )
        images = await collect_images(ctx, payload)
    except AimlapiError as exc:
        return f"Image editing failed: {exc.message}. Tell the user; no image was sent."
    return _deliver(ctx, images, model)

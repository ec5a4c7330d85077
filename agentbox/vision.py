"""Images given with a turn: checked before any model call, then turned into content parts.

Local files become bytes (sent as base64 data URLs by the model client); http(s) URLs
pass through. The type is read from the file's magic bytes, not its name.
"""

from __future__ import annotations

from pathlib import Path

from agentbox.config import VisionConfig
from agentbox.errors import AgentboxError
from agentbox.messages import Attachment

_MAGIC: list[tuple[bytes, str]] = [
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
]


class InputError(AgentboxError, ValueError):
    """Bad user input (image, message), phrased for the user; raised before any model call."""

    exit_code = 2


def sniff_image_type(data: bytes) -> str | None:
    for magic, media_type in _MAGIC:
        if data.startswith(magic):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def too_large(name: str, size: int | None, limit: int) -> InputError:
    """The user-facing error for an image over the size limit (its size, when known)."""
    if size is None:
        return InputError(f"{name} is larger than the limit of {limit / 1_048_576:.1f} MB")
    return InputError(f"{name} is {size / 1_048_576:.1f} MB; the limit is {limit / 1_048_576:.1f} MB")


def check_image_bytes(data: bytes, vision: VisionConfig, *, name: str = "image") -> str:
    """Validate image bytes; return the media type or raise InputError."""
    if len(data) > vision.max_image_bytes:
        raise too_large(name, len(data), vision.max_image_bytes)
    media_type = sniff_image_type(data)
    if media_type is None or media_type not in vision.allowed_types:
        allowed = ", ".join(t.removeprefix("image/").upper() for t in vision.allowed_types)
        raise InputError(f"{name} is not a supported image ({allowed})")
    return media_type


def load_image(spec: str, vision: VisionConfig) -> Attachment:
    """`--image PATH_OR_URL` → an image Attachment, or InputError saying what is wrong."""
    if spec.startswith(("http://", "https://")):
        return Attachment("image", url=spec)
    if "://" in spec:
        raise InputError(f"{spec}: only local files and http(s) URLs are supported")
    path = Path(spec).expanduser()
    if not path.is_file():
        raise InputError(f"{spec}: no such file")
    size = path.stat().st_size
    if size > vision.max_image_bytes:
        raise too_large(spec, size, vision.max_image_bytes)
    data = path.read_bytes()
    media_type = check_image_bytes(data, vision, name=spec)
    return Attachment("image", data=data, media_type=media_type, filename=path.name, path=str(path))


def validate_attachment_image(item: Attachment, vision: VisionConfig) -> Attachment:
    """Images arriving from connectors (bytes): check, and fill in the sniffed media type."""
    if item.data is None:
        return item
    media_type = check_image_bytes(item.data, vision, name=item.filename or "the image")
    return Attachment("image", data=item.data, media_type=media_type, filename=item.filename, caption=item.caption)

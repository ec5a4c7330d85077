"""Image generation skill: end to end through `agentbox agent --json`, both response shapes, edits, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentbox.config import load_config
from agentbox.messages import Attachment
from agentbox.skillkit.registry import bundled_root
from agentbox.skillkit.testing import SkillHarness
from agentbox.turn.runner import TurnRequest
from tests.clirun import invoke_cli
from tests.fakes.aimlapi import TINY_PNG, Fail, Reply, ToolCall
from tests.helpers import API_KEY, cli_env, runtime_on

IMAGE_SKILL = bundled_root() / "image-generation"


def test_image_turn_end_to_end_in_agent_json(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.script(
        Reply(tool_calls=[ToolCall("generate_image", {"prompt": "a lobster astronaut", "aspect": "landscape"})]),
        Reply(text="Here is your lobster astronaut."),
    )
    done = invoke_cli("agent", "--json", "-m", "draw a lobster astronaut", env=cli_env(home, fake_aimlapi))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["ok"] and out["reply"] == "Here is your lobster astronaut."
    assert out["tool_calls"] == ["generate_image"]
    [path] = out["attachments"]
    assert Path(path).read_bytes() == TINY_PNG and path.endswith(".png")
    [request] = fake_aimlapi.image_requests()
    assert request == {"model": "flux/schnell", "prompt": "a lobster astronaut", "image_size": "landscape_16_9"}
    tools = {t["function"]["name"] for t in fake_aimlapi.chat_requests()[0]["tools"]}
    assert {"generate_image", "edit_image", "read_skill"} <= tools


def test_image_attachment_printed_by_agent_plain(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.script(Reply(tool_calls=[ToolCall("generate_image", {"prompt": "cat"})]), Reply(text="Done."))
    done = invoke_cli("agent", "-m", "draw a cat", env=cli_env(home, fake_aimlapi))
    assert done.returncode == 0, done.stderr
    assert "[image] " in done.stdout and ".png" in done.stdout


def harness(fake_aimlapi, home: Path, **kw: object) -> SkillHarness:
    config = load_config(home / "config.toml", env={"AIMLAPI_API_KEY": API_KEY, "AIMLAPI_BASE_URL": fake_aimlapi.url})
    return SkillHarness(IMAGE_SKILL, config=config, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("shape", ["url", "b64_json", "fal"])
async def test_both_response_shapes_become_attachments(fake_aimlapi, home: Path, shape: str) -> None:
    fake_aimlapi.image_format = shape
    skill = harness(fake_aimlapi, home)
    answer = await skill.call("generate_image", prompt="a red square")
    assert "1 image made with flux/schnell" in answer
    [item] = skill.outbox.items
    assert item.kind == "image" and item.data == TINY_PNG and item.media_type == "image/png"


@pytest.mark.parametrize(
    ("model", "aspect", "expected"),
    [
        ("openai/gpt-image-1", "portrait", {"size": "1024x1536"}),
        ("flux/schnell", "square", {"image_size": "square_hd"}),
        ("google/imagen-4.0-generate-001", "landscape", {"aspect_ratio": "16:9"}),
        ("flux/kontext-pro/text-to-image", "portrait", {"aspect_ratio": "9:16"}),
    ],
)
async def test_size_field_per_model_family(fake_aimlapi, home: Path, model: str, aspect: str, expected: dict) -> None:
    skill = harness(fake_aimlapi, home)
    skill.config.skills.image_model = model
    await skill.call("generate_image", prompt="p", aspect=aspect)
    request = fake_aimlapi.image_requests()[-1]
    assert request["model"] == model
    assert {k: v for k, v in request.items() if k not in ("model", "prompt")} == expected


async def test_api_failure_is_reported_honestly(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.script_images(Fail(403))
    skill = harness(fake_aimlapi, home)
    answer = await skill.call("generate_image", prompt="x")
    assert answer.startswith("Image generation failed:") and "out of credits" in answer
    assert skill.outbox.items == []


async def test_edit_uses_the_photo_the_user_sent(fake_aimlapi, home: Path) -> None:
    photo = Attachment("image", data=TINY_PNG, media_type="image/png")
    skill = harness(fake_aimlapi, home, images=[photo])
    answer = await skill.call("edit_image", prompt="make it blue")
    assert "made with openai/gpt-image-1" in answer
    [request] = fake_aimlapi.image_requests()
    assert request["model"] == "openai/gpt-image-1" and request["prompt"] == "make it blue"
    assert request["image"]["data"] == TINY_PNG and request["image"]["content_type"] == "image/png"
    assert len(skill.outbox.items) == 1


async def test_edit_other_family_sends_inline_image(fake_aimlapi, home: Path) -> None:
    skill = harness(fake_aimlapi, home, images=[Attachment("image", data=TINY_PNG, media_type="image/png")])
    skill.config.skills.image_edit_model = "google/nano-banana-edit"
    await skill.call("edit_image", prompt="add a hat")
    request = fake_aimlapi.image_requests()[-1]
    assert request["image_urls"][0].startswith("data:image/png;base64,")


async def test_edit_without_a_photo_asks_for_one(fake_aimlapi, home: Path) -> None:
    skill = harness(fake_aimlapi, home)
    assert "No photo to edit" in await skill.call("edit_image", prompt="x")
    assert fake_aimlapi.image_requests() == []


async def test_edit_finds_a_photo_sent_earlier_in_the_chat(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.script(
        Reply(text="Nice photo."),
        Reply(tool_calls=[ToolCall("edit_image", {"prompt": "make it night"})]),
        Reply(text="Edited."),
    )
    photo = Attachment("image", data=TINY_PNG, media_type="image/png")
    async with runtime_on(fake_aimlapi, home) as rt:
        await rt.runner.run(TurnRequest(session_key="t:edit", text="look", images=(photo,)))
        result = await rt.runner.run(TurnRequest(session_key="t:edit", text="now make it night"))
    assert result.ok and result.tool_calls == ["edit_image"]
    assert len(result.attachments) == 1
    assert fake_aimlapi.image_requests()[-1]["image"]["data"] == TINY_PNG

"""The AI/ML API's speech endpoints for `FakeAimlapi` (API-NOTES §8), as `fake_aimlapi.speech`.

Speech to text is asynchronous: `POST /v1/stt/create` (JSON with a `url`, or multipart with the
audio as `file` for the gpt-4o transcribe family and `audio` for the others) answers 201
`{"generation_id", "status": "queued"}`; `GET /v1/stt/{generation_id}` then shows the job's
statuses in turn (`queued` → `generating` → `completed`, or `error`; the last one sticks). A
completed job carries the transcript under `result` (the docs' example; `output` in the newer
schema) and `meta.usage`; a failed one carries `error {name, message}`.

Text to speech is synchronous: `POST /v1/tts` answers either JSON `{"audio": url, "meta": ...}`
(the audio is then served under `/files/`) or the raw audio, per `tts_shape`. The audio is in the
requested `response_format` unless `tts_honours_format` is off (then MP3, as a provider might).

Script outcomes with `script_stt(SttJob(...), Fail(...))` and `script_tts(Fail(...))`; without a
script every job completes with `stt_text`. Requests are recorded like every other request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from tests.fakes.aimlapi import Fail, FakeAimlapi, Hang, Malformed, _parse_multipart
from tests.fakes.audio import audio_for

CREDITS_PER_USD = 2_000_000
MAX_TTS_CHARS = 4096


@dataclass
class SttJob:
    """How one transcription job goes: the statuses its polls show (the last sticks), its text or error."""

    text: str | None = None  # None: the fake's `stt_text`
    states: list[str] | None = None  # None: the fake's `stt_states`
    error: dict[str, str] | None = None  # None: the fake's `stt_error` (used when a state is "error")


@dataclass
class _Job:
    id: str
    form: dict[str, Any]
    plan: SttJob
    polls: int = 0


@dataclass
class FakeSpeech:
    """State and handlers of the speech endpoints; settings are read per request."""

    owner: FakeAimlapi
    stt_text: str = "What is the weather like in Lisbon this weekend?"
    stt_states: list[str] = field(default_factory=lambda: ["queued", "generating", "completed"])
    stt_error: dict[str, str] = field(
        default_factory=lambda: {"name": "TranscriptionError", "message": "The audio could not be transcribed."}
    )
    stt_result_key: Literal["result", "output"] = "result"
    stt_credits: int = 1_200
    tts_shape: Literal["json", "raw"] = "json"
    tts_honours_format: bool = True
    tts_credits: int = 30_000

    def __post_init__(self) -> None:
        self.jobs: dict[str, _Job] = {}
        self.files: dict[str, tuple[bytes, str]] = {}  # served under /files/<name>

    # -- scripting and inspection -------------------------------------------------------
    def script_stt(self, *steps: SttJob | Fail | Hang | Malformed) -> None:
        """Outcomes of the next transcription requests, one each: a job plan, or a failure of the create call
        (`Fail(times=n)` answers n requests)."""
        self.owner._enqueue("stt", steps)

    def script_tts(self, *steps: Fail | Hang | Malformed) -> None:
        """Failures of the next speech requests, one each (`Fail(times=n)` answers n requests)."""
        self.owner._enqueue("tts", steps)

    def stt_requests(self) -> list[dict[str, Any]]:
        """The form of every create request: fields, and the upload as {filename, content_type, data}."""
        out = []
        for r in self.owner.requests_to("/stt/create"):
            content_type = r.headers.get("Content-Type", "")
            out.append(_parse_multipart(content_type, r.body) if content_type.startswith("multipart/") else r.json)
        return out

    def stt_polls(self) -> list[str]:
        """The generation ids polled, in order."""
        return [r.path.rsplit("/", 1)[-1] for r in self.owner.requests if r.method == "GET" and "/stt/" in r.path]

    def tts_requests(self) -> list[dict[str, Any]]:
        return [r.json for r in self.owner.requests_to("/v1/tts")]

    def reset(self) -> None:
        with self.owner.lock:
            self.jobs.clear()
            self.owner._queues["stt"].clear()
            self.owner._queues["tts"].clear()

    # -- routes ----------------------------------------------------------------------------
    def setup_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/stt/create", self._stt_create)
        app.router.add_get("/v1/stt/{generation_id}", self._stt_poll)
        app.router.add_post("/v1/tts", self._tts)

    def file(self, name: str) -> web.Response | None:
        stored = self.files.get(name)
        return web.Response(body=stored[0], content_type=stored[1]) if stored else None

    async def _scripted_failure(self, request: web.Request, step: Any) -> web.Response | None:
        return await self.owner._scripted_failure(request, step, malformed=b'{"generation_id": ')

    async def _stt_create(self, request: web.Request) -> web.Response:
        if (denied := self.owner._check_auth(request)) is not None:
            return denied
        form = await _form(request)
        model = str(form.get("model") or "")
        upload_field = "file" if "gpt-4o" in model else "audio"
        has_upload = isinstance(form.get(upload_field), dict) and form[upload_field].get("data")
        if not model or not (has_upload or isinstance(form.get("url"), str)):
            return self.owner.error_response(
                request, 400, f"Body validation error! 'model' and 'url' or '{upload_field}' are required"
            )
        step = self.owner._pop("stt")
        if not isinstance(step, SttJob):
            if (answered := await self._scripted_failure(request, step)) is not None:
                return answered
            step = SttJob()
        job = _Job(str(uuid.uuid4()), form, step)
        with self.owner.lock:
            self.jobs[job.id] = job
        return web.json_response({"generation_id": job.id, "status": "queued"}, status=201)

    async def _stt_poll(self, request: web.Request) -> web.Response:
        if (denied := self.owner._check_auth(request)) is not None:
            return denied
        generation_id = request.match_info["generation_id"]
        with self.owner.lock:
            job = self.jobs.get(generation_id)
            if job is not None:
                job.polls += 1
        if job is None:
            return self.owner.error_response(request, 404, f"Generation {generation_id!r} not found")
        states = job.plan.states or self.stt_states
        status = states[min(job.polls, len(states)) - 1]
        payload: dict[str, Any] = {"id": job.id, "status": status}
        if status == "completed":
            text = job.plan.text if job.plan.text is not None else self.stt_text
            usage = {"type": "tokens", "input_tokens": 100, "output_tokens": max(1, len(text) // 4)}
            payload[self.stt_result_key] = {"text": text, "usage": usage}
            payload["meta"] = _meta(self.stt_credits)
        elif status == "error":
            payload["error"] = dict(job.plan.error or self.stt_error)
        return web.json_response(payload)

    async def _tts(self, request: web.Request) -> web.Response:
        if (denied := self.owner._check_auth(request)) is not None:
            return denied
        body = await self.owner._json_body(request)
        text = body.get("text") if body else None
        if not body or not body.get("model") or not isinstance(text, str) or not 1 <= len(text) <= MAX_TTS_CHARS:
            return self.owner.error_response(request, 400, "Body validation error! 'model' and 'text' are required")
        if (answered := await self._scripted_failure(request, self.owner._pop("tts"))) is not None:
            return answered
        wanted = str(body.get("response_format") or "mp3")
        made = wanted if self.tts_honours_format else "mp3"
        data, media_type = audio_for(made, seconds=max(1.0, len(text) / 15), seed=len(text))
        if self.tts_shape == "raw":
            return web.Response(body=data, content_type=media_type)
        name = f"tts-{uuid.uuid4().hex[:12]}.{ {'audio/ogg': 'ogg', 'audio/wav': 'wav'}.get(media_type, 'mp3') }"
        with self.owner.lock:
            self.files[name] = (data, media_type)
        return web.json_response({"audio": f"{self.owner.url}/files/{name}", "meta": _meta(self.tts_credits)})


async def _form(request: web.Request) -> dict[str, Any]:
    content_type = request.headers.get("Content-Type", "")
    if content_type.startswith("multipart/"):
        return _parse_multipart(content_type, await request.read())
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _meta(credits: int) -> dict[str, Any]:
    return {"usage": {"credits_used": credits, "usd_spent": credits / CREDITS_PER_USD}}

"""Voice: speech to text for voice notes and audio files, text to speech for spoken answers.

- `audio` — what format audio bytes are (magic bytes) and how long they last.
- `stt` / `tts` — the AI/ML API's speech endpoints, through `AimlapiClient` (bounded retries).
- `spoken` — a written answer made speakable: plain sentences, cut to a length, the transcript echo.
- `cost` / `spending` — what a speech call cost, recorded in the `spend` table for usage and caps.
- `hearing` — a piece of audio checked, transcribed, priced and stored (gateway and CLI alike).
- `replies` — an answer spoken: fitted to a length (or summarized), priced, as an attachment.
- `tool` — the `speak` tool: the model sends audio, as image tools send images.
"""

"""Web search through a search-capable chat model (API-NOTES §5, mechanism C: Perplexity Sonar)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic_ai import RunContext

from agentbox.aimlapi import AimlapiError, normalize_model_id
from agentbox.turn.deps import TurnDeps

__all__ = ["web_search"]

SYSTEM = "Answer the question concisely from current web results (at most 150 words). Be factual."
MAX_SOURCES = 8


def cited_urls(payload: dict[str, Any]) -> list[str]:
    """URLs from `citations`, `message.annotations[].url_citation` and `search_results`, deduplicated."""
    urls: list[str] = []
    for url in payload.get("citations") or []:
        if isinstance(url, str):
            urls.append(url)
    choices = payload.get("choices") or []
    first = choices[0] if choices and isinstance(choices[0], dict) else {}
    found = first.get("message")
    message: dict[str, Any] = found if isinstance(found, dict) else {}
    for note in message.get("annotations") or []:
        if isinstance(note, dict) and note.get("type", "url_citation") == "url_citation":
            inner = note.get("url_citation")
            url = inner.get("url") if isinstance(inner, dict) else note.get("url")  # flat form in older docs
            if isinstance(url, str):
                urls.append(url)
    for result in payload.get("search_results") or []:
        if isinstance(result, dict) and isinstance(result.get("url"), str):
            urls.append(result["url"])
    seen: dict[str, None] = {}
    for url in urls:
        if url.startswith(("http://", "https://")):
            seen.setdefault(url, None)
    return list(seen)[:MAX_SOURCES]


def answer_text(payload: dict[str, Any]) -> str:
    choices = payload.get("choices") or []
    if not choices or not isinstance(choices[0], dict):
        return ""
    content = (choices[0].get("message") or {}).get("content")
    return content.strip() if isinstance(content, str) else ""


async def web_search(
    ctx: RunContext[TurnDeps], query: str, recency: Literal["day", "week", "month", "year"] | None = None
) -> str:
    """Search the web and get a concise answer with source URLs.

    Args:
        query: A focused search question.
        recency: Only results from the last day, week, month or year.
    """
    model = normalize_model_id(ctx.deps.config.skills.search_model)
    options: dict[str, Any] = {"search_context_size": "medium"}
    if recency:
        options["search_recency_filter"] = recency  # inside web_search_options, as OpenClaw sends it
    body = {
        "model": model,
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": query}],
        "web_search_options": options,
        "search_mode": "web",  # the documented default is "academic"
        "max_tokens": 1024,
    }
    await ctx.deps.progress("searching the web…")
    try:
        payload = await ctx.deps.aimlapi.post_json("/v1/chat/completions", body)
    except AimlapiError as exc:
        return f"Web search failed: {exc.message}. Tell the user you could not search right now."
    if not isinstance(payload, dict):
        return "Web search returned an unexpected answer; tell the user you could not search right now."
    answer = answer_text(payload) or "(the search returned no answer)"
    urls = cited_urls(payload)
    sources = "\n".join(f"[{n}] {url}" for n, url in enumerate(urls, start=1)) or "(no sources returned)"
    return f"{answer}\n\nSources (untrusted web content):\n{sources}"

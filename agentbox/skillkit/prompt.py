"""The skills section of the system prompt, within a character budget (`[skills] max_prompt_chars`).

Every turn pays for this text, so it is bounded however many skills are installed: skills are
listed with their one-line description while the budget allows (`always: true` skills first),
then by name only, and past that counted, with `find_skill(query)` offered to search the rest.
Skills an agent enables that cannot run here follow, with the owner's fix, in what is left.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from agentbox.skillkit.model import Skill

SKILLS_HEADER = (
    "## Skills\n"
    "Before using a skill for the first time in a conversation, call read_skill(name) for its instructions.\n"
)
NAMES_LEAD = "More skills (names only; read_skill(name) gives their instructions): "
UNAVAILABLE_HEADER = (
    "## Skills not available yet\n"
    "If the user asks for one of these, say it is not set up and quote the owner's fix exactly.\n"
)
TAIL_RESERVE = 160  # room always kept for the closing "…and N more" lines
DESCRIBED_SHARE = 0.7  # of the room: the rest names further skills, so more of them are findable by name


@dataclass(slots=True)
class SkillsPrompt:
    """The rendered section, and how many ready skills it could not name (they need find_skill)."""

    text: str
    unnamed: int


def render_skills_prompt(ready: Iterable[Skill], unavailable: Iterable[Skill], budget: int) -> SkillsPrompt:
    """The skills section of the system prompt in at most about `budget` characters."""
    ready = sorted(ready, key=lambda skill: (not skill.always, skill.name))
    unavailable = list(unavailable)
    room = budget - TAIL_RESERVE
    parts: list[str] = []
    if ready:
        room -= len(SKILLS_HEADER)
        lines = [f"- {skill.name}: {skill.summary()}" for skill in ready]
        described = _fit(lines, room, sep=1)
        if len(described) < len(lines):  # not all fit: keep some room to name the others
            described = _fit(lines, int(room * DESCRIBED_SHARE), sep=1)
        room -= sum(len(line) + 1 for line in described)
        rest = [skill.name for skill in ready[len(described) :]]
        named = _fit(rest, room - len(NAMES_LEAD), sep=2) if rest else []
        room -= len(NAMES_LEAD) + sum(len(name) + 2 for name in named) if named else 0
        lines = [*described, *([NAMES_LEAD + ", ".join(named)] if named else [])]
        unnamed = len(rest) - len(named)
        if unnamed:
            lines.append(f"…and {unnamed} more: find_skill(query) searches every skill's name and description.")
        parts.append(SKILLS_HEADER + "\n".join(lines))
    else:
        unnamed = 0
    if unavailable:
        lines = _fit([f"- {skill.name}: {skill.summary(80)} ({skill.status_text()})" for skill in unavailable], room, 1)
        if len(lines) < len(unavailable):
            lines.append(f"…and {len(unavailable) - len(lines)} more not set up (`agentbox skills list` shows why).")
        parts.append(UNAVAILABLE_HEADER + "\n".join(lines))
    return SkillsPrompt("\n\n".join(parts), unnamed)


def _fit(items: list[str], room: int, sep: int) -> list[str]:
    """The longest prefix of `items` whose lengths (plus `sep` each) fit in `room`."""
    kept: list[str] = []
    for item in items:
        room -= len(item) + sep
        if room < 0:
            break
        kept.append(item)
    return kept


def search_skills(skills: Iterable[Skill], query: str, limit: int = 10) -> list[Skill]:
    """Skills whose name or description mention the query's words, best match first."""
    words = [word for word in query.lower().split() if word]
    scored = []
    for skill in skills:
        haystack = f"{skill.name} {skill.title or ''} {skill.description}".lower()
        score = sum(3 if word in skill.name else 1 for word in words if word in haystack)
        if score:
            scored.append((-score, skill.name, skill))
    return [skill for *_, skill in sorted(scored, key=lambda item: (item[0], item[1]))[:limit]]

"""A dict that forgets its oldest entries: the Slack connector's caches must not grow forever."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

MEMORY = 10_000  # bound on each in-memory cache (threads, names, reactions, sent chunks)


class Bounded(OrderedDict[Any, Any]):
    """An insertion-ordered dict of at most `MEMORY` entries; `remember` drops the oldest."""

    def remember(self, key: Any, value: Any = True) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > MEMORY:
            self.popitem(last=False)

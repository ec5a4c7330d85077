"""Install agentbox's logging for one test and take it down again afterwards."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agentbox.config import load_config
from agentbox.logs import log_file, setup_logging


@contextmanager
def agentbox_logging(home: Path, config_text: str) -> Iterator[Path]:
    """Write `config.toml`, run `setup_logging` on it, yield the log file; restore the root logger after."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, sys.excepthook)
    (home / "config.toml").write_text(config_text)
    setup_logging(load_config(), verbose=False)
    try:
        yield log_file()
    finally:
        for handler in root.handlers[:]:
            if handler not in saved[0]:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(saved[1])
        sys.excepthook = saved[2]

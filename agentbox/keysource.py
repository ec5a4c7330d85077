"""Where the AI/ML API key in use came from, named so the owner knows which one to fix.

Import-light (the CLI's start imports `API_KEY_ENV` from here): the rest is imported when asked.
"""

from __future__ import annotations

import os

API_KEY_ENV = "AIMLAPI_API_KEY"


def api_key_source() -> str:
    """`the AIMLAPI_API_KEY environment variable`, `AIMLAPI_API_KEY in ~/.agentbox/.env` or the config key."""
    from agentbox import paths
    from agentbox.envfile import came_from_env_file, env_file_path

    if os.environ.get(API_KEY_ENV):
        if came_from_env_file(API_KEY_ENV):
            return f"{API_KEY_ENV} in {env_file_path()}"
        return f"the {API_KEY_ENV} environment variable"
    return f"[aimlapi] api_key in {paths.config_path()}"

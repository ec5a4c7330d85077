"""agentbox: a self-hosted assistant gateway on pydantic-ai and the AI/ML API."""

__version__ = "0.1.0"

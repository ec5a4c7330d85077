"""The `agentbox` command line (Typer). Command modules import heavy dependencies lazily."""

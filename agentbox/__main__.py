from agentbox.cli.main import run

run()

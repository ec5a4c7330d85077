"""Platform connectors, one module each, installed as `agentbox.connectors`."""

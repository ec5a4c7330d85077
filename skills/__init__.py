"""Bundled skill folders, installed as `agentbox.bundled_skills` package data."""

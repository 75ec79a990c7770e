"""Helpers around the real vLLM: start/stop its OpenAI-compatible server, inspect it."""

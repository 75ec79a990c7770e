"""Lab Ollama: the course's Ollama-compatible server on llama.cpp.

Used when no real Ollama answers at OLLAMA_HOST. It mimics Ollama field for field
and status for status (shared/spec/ollama.md), and marks every response with an
``X-Course-Lab`` header so the course can tell it from a real Ollama.
"""

#: The Ollama release whose behaviour lab Ollama follows (GET /api/version).
OLLAMA_VERSION = "0.33.0-rc2"
LAB_HEADER = "X-Course-Lab"

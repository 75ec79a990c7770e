"""Lab Ollama's routes, one module per group of Ollama's API."""

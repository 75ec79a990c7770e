"""``python -m course_lib.lab_ollama``: serve lab Ollama at OLLAMA_HOST (foreground)."""

from .serve import main

main()

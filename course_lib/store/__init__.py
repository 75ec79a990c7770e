"""Lab Ollama's model store: names, Modelfiles, manifests and blobs on disk."""

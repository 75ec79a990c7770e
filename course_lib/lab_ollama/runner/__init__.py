"""Lab Ollama's runner: llama.cpp slots decoded in one batch, loaded on demand.

``options`` resolves what a request asks for, ``sampling`` turns it into a llama.cpp
sampler chain, ``engine`` runs the decode loop over the slots, ``scheduler`` loads
and unloads runners as Ollama's scheduler does (keep_alive, the load queue, /api/ps).
"""

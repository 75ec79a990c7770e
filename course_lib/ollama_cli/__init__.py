"""``course ollama``: Ollama's command line, for whatever answers at OLLAMA_HOST.

``formatting`` draws sizes, times and tables as Ollama's CLI does, ``progress`` its
pull bars, ``commands`` the one-shot commands, ``interactive`` the ``>>>`` prompt of
``ollama run``.
"""

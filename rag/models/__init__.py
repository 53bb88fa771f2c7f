"""The models: their ports (``ports.py``: what the service needs of an embedder, a language model and an
answerability model), the implementations, prompt families, and where their weights come from."""

"""Model loading: the embedder and the LLM, and where their weights come from."""

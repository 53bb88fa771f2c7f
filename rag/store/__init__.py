"""Where indexed data lives: chunk and sentence vectors in Chroma, document records in the registry database."""

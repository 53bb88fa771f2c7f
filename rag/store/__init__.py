"""Where indexed data lives: chunk vectors in Chroma, document records in the registry database."""

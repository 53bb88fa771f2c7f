"""Turning files into indexed chunks: parse, split with provenance, embed, store, register."""

"""Measuring the service on standard benchmark formats (BEIR, SQuAD): readers, metrics, runners."""

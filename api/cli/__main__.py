"""``python -m api.cli``: the ``rag`` command."""

from api.cli import main

main()

"""Who is doing a piece of work, and whether they still can.

Several processes may share one registry and one store (API processes, a `rag worker`). Work in progress
(a refresh lock, a running job, a first version being written) is tagged with its process's owner string,
``host:pid:start``, so that another process can tell a crashed owner from a busy one: on the same host a dead
pid (or a pid reused by a newer process) means the work will never finish. Owners on other hosts cannot be
checked; their claims end when their lease expires.
"""

from __future__ import annotations

import functools
import os
import socket

import psutil


def _start_time(pid: int) -> str | None:
    try:
        return f"{psutil.Process(pid).create_time():.2f}"
    except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
        return None


@functools.cache
def _host() -> str:
    return socket.gethostname()


def current_owner() -> str:
    """This process's owner string (recomputed after a fork, so a child is not mistaken for its parent)."""
    pid = os.getpid()
    return f"{_host()}:{pid}:{_start_time(pid)}"


def owner_alive(owner: str | None) -> bool:
    """False only when the owner is provably gone: same host and its process no longer exists."""
    if not owner:
        return False
    host, _, rest = owner.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != _host() or not pid_text.isdigit():
        return True
    return _start_time(int(pid_text)) == started

"""Stop strings: cutting a finished text at the first one, and holding back a stream's text that could be the
start of one. The in-process model and the remote one enforce the family's and the request's stop strings with
these same two helpers, whatever their runtime or server already does.
"""

from __future__ import annotations


def cut_at_stops(text: str, stops: list[str] | tuple[str, ...]) -> str:
    """The text before the first stop string in it, stripped."""
    for stop in stops:
        cut = text.find(stop) if stop else -1
        if cut != -1:
            text = text[:cut]
    return text.strip()


class StopHoldback:
    """Turns raw decoded pieces into deltas that never show a stop string, whole or in part.

    A stop string can arrive split over several pieces ("<|im", "_end|>"), so text that could be the start of
    one is held back until the next piece decides it. ``feed`` returns the text now safe to show and whether a
    stop string has completed (then the text is everything up to it, and generation should end).
    """

    def __init__(self, stops: list[str]) -> None:
        self.stops = [s for s in stops if s]
        self._text = ""
        self._shown = 0

    def _held(self) -> int:
        """Length of the longest end of the text that is the beginning of some stop string."""
        longest = 0
        for stop in self.stops:
            for n in range(min(len(stop) - 1, len(self._text)), longest, -1):
                if self._text.endswith(stop[:n]):
                    longest = n
                    break
        return longest

    def feed(self, piece: str) -> tuple[str, bool]:
        self._text += piece
        cuts = [i for i in (self._text.find(stop) for stop in self.stops) if i != -1]
        if cuts:
            delta, self._shown = self._text[self._shown : min(cuts)], len(self._text)
            return delta, True
        safe = len(self._text) - self._held()
        delta, self._shown = self._text[self._shown : safe], max(self._shown, safe)
        return delta, False

    def flush(self) -> str:
        """What was held back, once generation ended without a stop string."""
        delta, self._shown = self._text[self._shown :], len(self._text)
        return delta

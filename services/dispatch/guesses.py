"""How fast anyone may guess the four digits that open a ticket's public progress.

Four digits are 10,000 guesses, so guessing must be slow; but the citizen who
knows the digits must never be locked out of their own ticket because someone
else guessed wrong. Two limits do both:

- per client address (behind configured proxies only, see
  `HOTLINE_TRUSTED_PROXIES`): `client_failures` wrong answers in `window`,
  then 429 until the oldest ages out. One address: 10 per 15 minutes, 40 an
  hour, so the expected 5,000 guesses of one ticket take about 5 days;
- per ticket, whoever asks: after `free_failures` wrong answers in `window`,
  each further attempt waits `2^(n - free_failures)` seconds after the last
  wrong one, at most `max_wait`. Many addresses together then get one guess a
  minute: the expected 5,000 take about 3.5 days, while the citizen waits at
  most a minute, never a quarter of an hour.

State is kept in each process; with several replicas behind a balancer the
per-client figure multiplies by the replica count, the per-ticket pace does not
hold across them (a shared store is for the services issue).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass
class GuessLimit:
    """Sliding windows of wrong answers per client and per ticket."""

    client_failures: int = 10
    free_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    max_wait: timedelta = timedelta(seconds=60)
    _clients: dict[str, deque[datetime]] = field(default_factory=dict)
    _tickets: dict[str, deque[datetime]] = field(default_factory=dict)

    def wait(self, ticket_number: str, client: str, now: datetime) -> timedelta | None:
        """How long this client must wait before trying this ticket; None: try now."""
        mine = self._recent(self._clients, client, now)
        if len(mine) >= self.client_failures:
            return mine[0] + self.window - now
        theirs = self._recent(self._tickets, ticket_number, now)
        over = len(theirs) - self.free_failures + 1
        if over <= 0:
            return None
        pause = min(timedelta(seconds=2 ** over), self.max_wait)
        ready = theirs[-1] + pause
        return ready - now if ready > now else None

    def failed(self, ticket_number: str, client: str, now: datetime) -> None:
        """Count one wrong answer against both."""
        for book, key in ((self._clients, client), (self._tickets, ticket_number)):
            book.setdefault(key, deque()).append(now)

    def _recent(self, book: dict[str, deque[datetime]], key: str,
                now: datetime) -> deque[datetime]:
        seen = book.get(key)
        if seen is None:
            return deque()
        while seen and now - seen[0] > self.window:
            seen.popleft()
        if not seen:
            del book[key]  # forget quiet keys: the books do not grow with every address
        return seen

"""A one-line progress bar on stderr, redrawn in place with ``\\r``."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["ProgressBar", "ProgressLogHandler", "format_duration"]

_BAR_WIDTH = 20


def format_duration(seconds: float) -> str:
    """``M:SS`` or ``H:MM:SS``."""
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressBar:
    """Records done of a total, rate and ETA; at most ``max_fps`` redraws per second.

    A disabled bar draws nothing, so callers need no ``if``. The line is cut to the
    terminal width, because a wrapped line cannot be redrawn with ``\\r``.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        enabled: bool,
        max_fps: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self.enabled = enabled
        self._interval = 1.0 / max_fps
        self._clock = clock
        self._started = clock()
        self._last_draw: float | None = None
        self._drawn_width = 0
        self.total: int | None = None
        self.done = 0

    def update(self, done: int, total: int | None = None) -> None:
        """Record progress; redraw unless the last redraw was too recent."""
        self.done = done
        if total is not None:
            self.total = total
        now = self._clock()
        if self._last_draw is not None and now - self._last_draw < self._interval:
            return
        self._draw(now)

    def close(self) -> None:
        """Draw the final state and end the line, so later messages start on their own."""
        if not self.enabled or self._last_draw is None:
            return
        self._draw(self._clock())
        self._stream.write("\n")
        self._stream.flush()

    def clear(self) -> None:
        """Blank the bar's line so a message can take it; the next update redraws the bar."""
        if self._drawn_width:
            self._stream.write("\r" + " " * self._drawn_width + "\r")
            self._drawn_width = 0
            self._last_draw = None

    def render(self, now: float) -> str:
        """The text of the bar at time ``now``."""
        elapsed = max(now - self._started, 1e-9)
        rate = self.done / elapsed
        if self.total is None:
            return f"{self.done:,} records  {rate:,.0f} rec/s"
        total = max(self.total, self.done)
        share = self.done / total if total else 1.0
        filled = round(share * _BAR_WIDTH)
        bar = "#" * filled + "." * (_BAR_WIDTH - filled)
        eta = format_duration((total - self.done) / rate) if rate > 0 else "?"
        return f"[{bar}] {share:4.0%} {self.done:,}/{total:,} records {rate:,.0f}/s ETA {eta}"

    def _draw(self, now: float) -> None:
        if not self.enabled:
            return
        self._last_draw = now
        text = self.render(now)[: self._width()]
        # Pad over the remains of a longer previous line.
        self._stream.write("\r" + text.ljust(self._drawn_width))
        self._stream.flush()
        self._drawn_width = len(text)

    def _width(self) -> int | None:
        """Columns of the terminal behind the stream, less one; ``None`` when no terminal."""
        try:
            return max(os.get_terminal_size(self._stream.fileno()).columns - 1, 20)
        except (OSError, ValueError, AttributeError):  # a pipe, a file, or no fileno at all
            return None


class ProgressLogHandler(logging.Handler):
    """Log records as ``testio-async: warning: ...`` lines on their own, never inside the bar."""

    def __init__(self, bar: ProgressBar, stream: TextIO, level: int = logging.WARNING) -> None:
        super().__init__(level)
        self._bar = bar
        self._stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        """Blank the bar, then write the message on a line of its own."""
        try:
            self._bar.clear()
            self._stream.write(f"testio-async: {record.levelname.lower()}: {record.getMessage()}\n")
            self._stream.flush()
        except Exception:
            self.handleError(record)

"""A mailbox's budget at the provider: what it spent in the rolling window, the pace it keeps,
and the pause the provider asked for. No I/O here: an adapter keeps the budget where every
dispatcher process sees it.

Gmail counts quota units per user over a rolling minute (15,000 by default) and enforces it as a
moving average (250 units a second), so a burst of a whole minute's units at once is refused
even when the minute's total would fit. The budget therefore keeps both: a call goes out only when
its units fit the rolling window and the mailbox's pace has caught up with the clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

# Gmail counts a call when it arrives, a little after we spend it: keeping each spend a second
# longer than the window keeps us under the quota at the window's edge too.
MARGIN = dt.timedelta(seconds=1)
# The longest pause any Retry-After can impose: a day, the span of the daily cap.
LONGEST_PAUSE = dt.timedelta(days=1)


@dataclass(frozen=True)
class QuotaPolicy:
    """How much a mailbox may spend, and how long it rests after a rate-limit answer that does
    not say how long to wait."""

    units_per_window: int
    window: dt.timedelta = dt.timedelta(minutes=1)
    # Without Retry-After: a short pause, a little longer for each rate-limit answer in a row.
    first_pause: dt.timedelta = dt.timedelta(seconds=30)
    pause_growth: float = 1.5
    longest_default_pause: dt.timedelta = dt.timedelta(seconds=120)

    @property
    def counted_window(self) -> dt.timedelta:
        return self.window + MARGIN

    def pace(self, units: int) -> dt.timedelta:
        """How far a call of `units` pushes the mailbox's pace: the window's units spread evenly
        over the window."""
        return self.counted_window * (units / self.units_per_window)

    def pause_length(self, retry_after: dt.timedelta | None, in_a_row: int) -> dt.timedelta:
        """What the provider asked for, or a short default growing with each answer in a row."""
        if retry_after is not None:
            return min(max(retry_after, dt.timedelta(0)), LONGEST_PAUSE)
        grown = self.first_pause * self.pause_growth ** max(in_a_row - 1, 0)
        return min(grown, self.longest_default_pause)


@dataclass(frozen=True)
class MailboxBudget:
    # (when, units) of each call in the counted window, oldest first.
    spends: tuple[tuple[dt.datetime, int], ...] = ()
    # The next call may go out at this time, not before: the pace.
    paced_until: dt.datetime | None = None
    # The provider said slow down: nothing goes out before this time.
    paused_until: dt.datetime | None = None
    # Rate-limit answers since the last call that went well.
    pauses_in_a_row: int = 0

    def _recent(self, policy: QuotaPolicy, now: dt.datetime) -> tuple[tuple[dt.datetime, int], ...]:
        start = now - policy.counted_window
        return tuple((at, units) for at, units in self.spends if at > start)

    def used(self, policy: QuotaPolicy, now: dt.datetime) -> int:
        return sum(units for _, units in self._recent(policy, now))

    def reserve(
        self, policy: QuotaPolicy, now: dt.datetime, units: int
    ) -> MailboxBudget | dt.timedelta:
        """The budget with `units` spent now, or how long to wait before asking again."""
        if units > policy.units_per_window:
            raise ValueError(
                f"a call of {units} units can never fit a {policy.units_per_window} budget"
            )
        recent = self._recent(policy, now)
        waits = [dt.timedelta(0)]
        if self.paused_until is not None:
            waits.append(self.paused_until - now)
        if self.paced_until is not None:
            waits.append(self.paced_until - now)
        excess = sum(u for _, u in recent) + units - policy.units_per_window
        for at, spent in recent:  # the window frees room as the oldest spends age out
            if excess <= 0:
                break
            excess -= spent
            waits.append(at + policy.counted_window - now)
        wait = max(waits)
        if wait > dt.timedelta(0):
            return wait
        start = max(self.paced_until or now, now)
        return replace(
            self,
            spends=(*recent, (now, units)),
            paced_until=start + policy.pace(units),
        )

    def pause(
        self, policy: QuotaPolicy, now: dt.datetime, retry_after: dt.timedelta | None
    ) -> MailboxBudget:
        """The provider answered a rate-limit error: rest the whole mailbox, then go on at the
        pace. An answer to a call made before an ongoing pause belongs to that pause."""
        ongoing = self.paused_until is not None and self.paused_until > now
        in_a_row = self.pauses_in_a_row if ongoing else self.pauses_in_a_row + 1
        until = now + policy.pause_length(retry_after, in_a_row)
        if ongoing and self.paused_until is not None:
            until = max(until, self.paused_until)
        return replace(
            self,
            paused_until=until,
            # Resume one call at a time from the end of the pause: never a burst.
            paced_until=max(self.paced_until or until, until),
            pauses_in_a_row=in_a_row,
        )

    def went_well(self, now: dt.datetime) -> MailboxBudget:
        """A call succeeded outside any pause: the next rate-limit answer starts afresh."""
        if self.pauses_in_a_row == 0 or (self.paused_until is not None and self.paused_until > now):
            return self
        return replace(self, pauses_in_a_row=0)

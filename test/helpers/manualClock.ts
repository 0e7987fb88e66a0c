import type { Clock } from '../../core/contract/clock.ts';

/** A clock that moves only when the test says so: a day of backoff runs in seconds. */
export class ManualClock implements Clock {
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private nextId = 0;

  constructor(private current = Date.UTC(2026, 10, 22, 1, 0, 0)) {}

  now(): number {
    return this.current;
  }

  setTimer(fn: () => void, ms: number): () => void {
    const id = this.nextId++;
    this.timers.push({ at: this.current + Math.max(0, ms), fn, id });
    return () => {
      this.timers = this.timers.filter((t) => t.id !== id);
    };
  }

  /** Time of the earliest pending timer, or null. */
  nextTimerAt(): number | null {
    return this.timers.length ? Math.min(...this.timers.map((t) => t.at)) : null;
  }

  /** Moves to `to` (or the next timer) and fires every timer due by then. */
  advanceTo(to: number): void {
    this.current = Math.max(this.current, to);
    const due = this.timers.filter((t) => t.at <= this.current).sort((a, b) => a.at - b.at);
    this.timers = this.timers.filter((t) => t.at > this.current);
    for (const t of due) t.fn();
  }

  advance(ms: number): void {
    this.advanceTo(this.current + ms);
  }
}

import type { OutboxForwarder } from '../../core/forward/forwarder.ts';
import type { ManualClock } from './manualClock.ts';
import { waitFor } from './wait.ts';

/** Runs a forwarder through simulated time: jump to each timer, let real I/O settle in between. */
export async function runForwarderUntil(clock: ManualClock, forwarder: OutboxForwarder, untilMs: number): Promise<void> {
  while (true) {
    await waitFor(() => forwarder.stats.inFlight === 0, 'deliveries in flight to settle', 20_000, 1);
    const next = clock.nextTimerAt();
    if (next === null || next > untilMs) break;
    clock.advanceTo(next);
  }
  clock.advanceTo(untilMs);
}

// Child process for the kill -9 test: appends in a loop with N concurrent producers and prints
// "ACK <key>" only after append() resolved (the moment a driver would acknowledge a device),
// while a forwarder delivers to the HTTP sink given on the command line.
import pino from 'pino';
import { EventBus } from '../../core/contract/events.ts';
import { openStore } from '../../core/store/store.ts';
import { OutboxForwarder } from '../../core/forward/forwarder.ts';
import { HttpJsonDestination } from '../../core/forward/httpJson.ts';
import { systemClock } from '../../core/contract/clock.ts';

const [dir, sinkUrl, startAt, producersArg] = process.argv.slice(2);
const store = await openStore({ dir: dir! });
const forwarder = new OutboxForwarder(
  new HttpJsonDestination('sink', { url: sinkUrl! }),
  store.outbox,
  systemClock,
  pino({ level: 'silent' }),
  new EventBus(),
  {
    window: 4,
    ordered: true,
    attemptTimeoutMs: 5_000,
    backoff: { initialMs: 50, maxMs: 500, jitter: 0.5 },
  },
);
store.onEnqueued(() => forwarder.wake());
forwarder.start();

let next = Number(startAt);
const producers = Number(producersArg ?? 10);
process.stdout.write('READY\n');
await Promise.all(
  Array.from({ length: producers }, async (_, p) => {
    const journal = store.journalFor(`dev${p}`, ['sink']);
    for (;;) {
      const n = next++;
      await journal.append({ stream: 'lab.result', kind: 'result', idempotencyKey: `item-${n}`, raw: Buffer.from(`payload ${n}`), parsed: { n } });
      process.stdout.write(`ACK item-${n}\n`);
    }
  }),
);

// Child process for the power-cut test: issues tickets (and calls one in three at counter q1)
// and prints "ISSUED <id> <number>" / "CALLED <id>" only after the queue answered, as the API would.
import { readFileSync } from 'node:fs';
import { openStore } from '../../../core/store/store.ts';
import { TicketQueue } from '../../../modules/queue/ticketQueue.ts';
import type { QueueConfig } from '../../../modules/queue/types.ts';

const [dir] = process.argv.slice(2);
const store = await openStore({ dir: dir! });
const config = JSON.parse(readFileSync(new URL('../../../fixtures/queue/config.json', import.meta.url), 'utf8')) as QueueConfig;
const queue = new TicketQueue({ db: store.db, config, journal: store.journalFor('queue', []) });
await queue.start();
process.stdout.write('READY\n');
for (let i = 0; ; i++) {
  const { ticket } = await queue.issue({ service: i % 4 === 3 ? 'xn' : 'noi' });
  process.stdout.write(`ISSUED ${ticket.id} ${ticket.number}\n`);
  if (i % 3 === 2) {
    const called = await queue.callNext('q1');
    process.stdout.write(`CALLED ${called.id}\n`);
  }
}

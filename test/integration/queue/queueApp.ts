// A small fastify instance with the queue plugin, the kiosk pages (as the agent serves them at
// /counter/ and /call-screen/) over a real store and a printer simulator: for API and browser tests.
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EventBus } from '../../../agent/bus.ts';
import { openStore } from '../../../agent/store/store.ts';
import { TicketQueue } from '../../../agent/queue/ticketQueue.ts';
import { queueRoutes } from '../../../agent/queue/routes.ts';
import type { QueueConfig } from '../../../agent/queue/types.ts';
import type { Clock } from '../../../agent/clock.ts';
import { EscposPrinter } from '../../../drivers/printer/escposPrinter.ts';
import { PrinterPool } from '../../../drivers/printer/printerPool.ts';
import { startPrinter, type PrinterSim } from '../../sim/printer.ts';
import { tempDir } from '../../helpers/tmp.ts';

export const ADMIN_TOKEN = 'test-admin';

export interface QueueApp {
  app: FastifyInstance;
  url: string;
  queue: TicketQueue;
  bus: EventBus;
  printerSim: PrinterSim;
  pool: PrinterPool;
  store: Awaited<ReturnType<typeof openStore>>;
  close(): Promise<void>;
}

export function fixtureConfig(): QueueConfig {
  return JSON.parse(readFileSync(fileURLToPath(new URL('../../../fixtures/queue/config.json', import.meta.url)), 'utf8')) as QueueConfig;
}

export async function startQueueApp(opts: { clock?: Clock; config?: QueueConfig; printer?: boolean } = {}): Promise<QueueApp> {
  const tmp = tempDir('queue-app-');
  const store = await openStore({ dir: tmp.dir });
  const bus = new EventBus();
  const queue = new TicketQueue({ db: store.db, config: opts.config ?? fixtureConfig(), bus, journal: store.journalFor('queue', []), ...(opts.clock ? { clock: opts.clock } : {}) });
  await queue.start();
  const printerSim = await startPrinter();
  const pool = new PrinterPool();
  if (opts.printer !== false) pool.add(new EscposPrinter('kiosk-printer', { transport: 'tcp', host: '127.0.0.1', port: printerSim.port, retries: 0 }));
  const app = Fastify();
  await app.register(queueRoutes, {
    queue,
    printers: pool,
    requireAdmin: async (req, reply) => {
      if (req.headers.authorization !== `Bearer ${ADMIN_TOKEN}`) await reply.code(401).send({ error: 'login required' });
    },
  });
  await app.register(fastifyStatic, { root: fileURLToPath(new URL('../../../kiosk/', import.meta.url)), prefix: '/', redirect: true });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    app,
    url,
    queue,
    bus,
    printerSim,
    pool,
    store,
    async close() {
      await app.close();
      await printerSim.stop();
      store.close();
      tmp.cleanup();
    },
  };
}

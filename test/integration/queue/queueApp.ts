// A small fastify instance with the queue plugin, the kiosk pages (as the agent serves them at
// /counter/ and /call-screen/) over a real store and a printer simulator: for API and browser tests.
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import websocket from '@fastify/websocket';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EventBus } from '../../../core/contract/events.ts';
import { openStore } from '../../../core/store/store.ts';
import { TicketQueue } from '../../../modules/queue/ticketQueue.ts';
import { queueRoutes } from '../../../modules/queue/routes.ts';
import type { QueueConfig } from '../../../modules/queue/types.ts';
import type { Clock } from '../../../core/contract/clock.ts';
import { EscposPrinter } from '../../../modules/printer/escposPrinter.ts';
import { PrinterPool } from '../../../modules/printer/printerPool.ts';
import { startPrinter, type PrinterSim } from '../../sim/printer.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { ConsoleAuth } from '../../../core/http/auth.ts';
import { apiErrorHandler } from '../../../core/http/server.ts';
import { httpLimits } from '../../../core/http/settings.ts';
import { hashPassword } from '../../../core/http/password.ts';
import { TEST_PASSWORD } from '../../helpers/agentConfig.ts';

/** Accounts of the queue app (password TEST_PASSWORD): the admin, `quay` (staff, every counter), `quay1` (staff, counter q1 only). */
export const ACCOUNTS = { admin: 'admin', staff: 'quay', staffQ1: 'quay1' } as const;
export const KIOSK_TOKEN = 'queue-kiosk-token-0123456789';
let passwordHash: Promise<string> | null = null;

export interface QueueApp {
  app: FastifyInstance;
  url: string;
  queue: TicketQueue;
  bus: EventBus;
  printerSim: PrinterSim;
  pool: PrinterPool;
  store: Awaited<ReturnType<typeof openStore>>;
  /** Logs in (POST /api/login) and returns the session cookie header. */
  login(user: string): Promise<string>;
  close(): Promise<void>;
}

export function fixtureConfig(): QueueConfig {
  return JSON.parse(readFileSync(fileURLToPath(new URL('../../../fixtures/queue/config.json', import.meta.url)), 'utf8')) as QueueConfig;
}

export async function startQueueApp(opts: { clock?: Clock; config?: QueueConfig; printer?: boolean } = {}): Promise<QueueApp> {
  const tmp = tempDir('queue-app-');
  const store = await openStore({ dir: tmp.dir });
  const bus = new EventBus();
  const queue = new TicketQueue({
    db: store.db,
    config: opts.config ?? fixtureConfig(),
    bus,
    journal: store.journalFor('queue', []),
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  await queue.start();
  const printerSim = await startPrinter();
  const pool = new PrinterPool();
  if (opts.printer !== false) pool.add(new EscposPrinter('kiosk-printer', { transport: 'tcp', host: '127.0.0.1', port: printerSim.port, retries: 0 }));
  // The agent's validation rules (core/http/server.ts): unknown fields are refused, not dropped.
  const app = Fastify({ ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false } } });
  passwordHash ??= hashPassword(TEST_PASSWORD);
  const hash = await passwordHash;
  const auth = new ConsoleAuth({
    accounts: [
      { user: ACCOUNTS.admin, role: 'admin', passwordHash: hash },
      { user: ACCOUNTS.staff, role: 'staff', passwordHash: hash },
      { user: ACCOUNTS.staffQ1, role: 'staff', passwordHash: hash, counters: ['q1'] },
    ],
    kiosks: [{ id: 'kiosk-1', token: KIOSK_TOKEN }],
    kioskLoopback: true,
    sessionHours: 1,
  });
  // What the local API gives every module's routes (core/http/server.ts): its WebSocket plugin with
  // the default maxPayload, and its error handler.
  await app.register(websocket, { options: { maxPayload: httpLimits({}).webSocketMaxPayloadKB * 1024 } });
  app.setErrorHandler(apiErrorHandler);
  auth.register(app);
  await app.register(queueRoutes, { queue, printers: pool, requireAdmin: auth.requireAdmin, requireStaff: auth.requireStaff, requireKiosk: auth.requireKiosk });
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
    async login(user: string) {
      const res = await fetch(`${url}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user, password: TEST_PASSWORD }),
      });
      if (!res.ok) throw new Error(`login ${user} failed: ${res.status}`);
      return res.headers.get('set-cookie')!.split(';')[0]!;
    },
    async close() {
      await app.close();
      await printerSim.stop();
      store.close();
      tmp.cleanup();
    },
  };
}

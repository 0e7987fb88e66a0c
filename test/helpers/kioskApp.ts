// The kiosk's routes and pages over a real store, queue, HIS simulator and forwarder: what the
// agent serves at /kiosk/, for browser tests before the full agent wiring.
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import websocket from '@fastify/websocket';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { EventBus } from '../../core/contract/events.ts';
import { systemClock } from '../../core/contract/clock.ts';
import { openStore } from '../../core/store/store.ts';
import { TicketQueue } from '../../modules/queue/ticketQueue.ts';
import type { QueueConfig } from '../../modules/queue/types.ts';
import { registerKioskRoutes } from '../../modules/kiosk/kioskRoutes.ts';
import { ConsoleAuth } from '../../core/http/auth.ts';
import { CheckInRegistrar, createHisLookup, HisHttpDestination } from '../../modules/his/index.ts';
import { OutboxForwarder } from '../../core/forward/forwarder.ts';
import { startHisSim, type HisSim } from '../sim/his.ts';
import { tempDir } from './tmp.ts';

export interface KioskApp {
  url: string;
  his: HisSim;
  bus: EventBus;
  store: Awaited<ReturnType<typeof openStore>>;
  close(): Promise<void>;
}

export interface KioskAppOptions {
  /** Kiosk units and their tokens (kiosk.units). */
  units?: Array<{ id: string; token: string }>;
  /** kiosk.allowLoopback (default true). */
  allowLoopback?: boolean;
}

export async function startKioskApp(options: KioskAppOptions = {}): Promise<KioskApp> {
  const tmp = tempDir('kiosk-app-');
  const store = await openStore({ dir: tmp.dir });
  const bus = new EventBus();
  const his = await startHisSim();
  const config = JSON.parse(readFileSync(fileURLToPath(new URL('../../fixtures/queue/config.json', import.meta.url)), 'utf8')) as QueueConfig;
  const queue = new TicketQueue({ db: store.db, config, bus, journal: store.journalFor('queue', []) });
  await queue.start();
  const hisBase = `http://127.0.0.1:${his.port}`;
  const destination = new HisHttpDestination('his-checkin', { baseUrl: hisBase, register: { ackField: 'requestId' } } as never);
  const forwarder = new OutboxForwarder(destination, store.outbox, systemClock, pino({ level: 'silent' }), bus, {
    window: 1,
    ordered: true,
    attemptTimeoutMs: 5_000,
    backoff: { initialMs: 100, maxMs: 500, jitter: 0.5 },
  });
  store.onEnqueued(() => forwarder.wake());
  forwarder.start();
  // The agent's validation rules (core/http/server.ts): unknown fields are refused, not dropped.
  const app: FastifyInstance = Fastify({ ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false } } });
  await app.register(websocket, { options: { maxPayload: 4096 } });
  const auth = new ConsoleAuth({ accounts: [], kiosks: options.units ?? [], kioskLoopback: options.allowLoopback ?? true, sessionHours: 1 });
  await registerKioskRoutes(app, {
    bus,
    timezone: 'Asia/Ho_Chi_Minh',
    requireKiosk: auth.requireKiosk,
    queue,
    lookup: createHisLookup({ http: { baseUrl: hisBase } } as never),
    registrar: new CheckInRegistrar(store.journalFor('kiosk', []), 'his-checkin'),
    feedback: store.journalFor('kiosk', []),
  });
  await app.register(fastifyStatic, { root: fileURLToPath(new URL('../../kiosk/', import.meta.url)), prefix: '/', redirect: true });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url,
    his,
    bus,
    store,
    async close() {
      await app.close();
      await forwarder.stop();
      await his.stop();
      store.close();
      tmp.cleanup();
    },
  };
}

// The whole agent with its LAN broker and a screen subscribed to `#` (Debian's mosquitto_sub)
// while a patient identifies at the kiosk by QR and by typed CCCD number and takes a ticket:
// the queue's numbers reach the screen, nothing personal ever does.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../../core/controller.ts';
import { DEFAULT_CITIZEN } from '../../sim/card/files.ts';
import { qrOf } from '../../sim/card/card.ts';
import { startHttpSink, type HttpSink } from '../../sim/httpSink.ts';
import { LAN_SCREEN_USER, TEST_PASSWORD, writeAgentConfig } from '../../helpers/agentConfig.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { requireMosquittoClients, runClient, subscribed, type Subscriber } from './lanBrokerClients.ts';
import { MODULES } from '../../../modules/index.ts';

const root = 'edge/v1/bv-test/test-box';
const TYPED_DIGITS = '079203004321';
const { dir, cleanup } = tempDir('edge-lan-agent-');
let sink: HttpSink;
let agent: Agent;
let base: string;
let screen: Subscriber;

beforeAll(async () => {
  requireMosquittoClients();
  sink = await startHttpSink();
  agent = new Agent({
    modules: MODULES,
    configFile: await writeAgentConfig(dir, {
      sinkUrl: sink.url,
      extra: `queue:
  services:
    - { id: noi, name: Khám Nội, strategy: { kind: strict } }
  counters:
    - { id: q1, number: 1, services: [noi] }
`,
    }),
    log: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
  });
  await agent.start();
  base = `http://127.0.0.1:${agent.httpPort}`;
  const port = String(agent.lanBroker!.address.port);
  screen = await subscribed(
    ['-h', '127.0.0.1', '-p', port, '-u', LAN_SCREEN_USER, '-P', TEST_PASSWORD, '-t', '#', '-v'],
    `${root}/state`,
    'the screen subscribed to #',
  );
});

afterAll(async () => {
  await screen?.stop();
  await agent?.stop('test done');
  await sink?.stop();
  cleanup();
});

async function post(path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status, path).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

describe('a screen subscribed to # during a kiosk identify', () => {
  it('gets the queue numbers and never the QR text, the CCCD numbers, the name or the birth date', async () => {
    const qr = qrOf();
    // The page gets a reference and a greeting view; the identity itself stays in the box.
    const fromQr = (await post('/api/kiosk/identify', { qr })) as { identityRef: string; idLast3: string };
    expect(fromQr.idLast3).toBe(DEFAULT_CITIZEN.idNumber.slice(-3));
    const typed = (await post('/api/kiosk/identify', { digits: TYPED_DIGITS })) as { idLast3: string };
    expect(typed.idLast3).toBe(TYPED_DIGITS.slice(-3));
    const checkin = await post('/api/kiosk/checkin', { identityRef: fromQr.identityRef, service: 'noi' });
    const ticket = checkin.ticket as { number: string };
    await waitFor(() => screen.out.includes(`${root}/queue/noi/evt`) && screen.out.includes(ticket.number), 'the ticket event at the screen');
    await waitFor(() => screen.out.includes(`${root}/queue/noi/snapshot`), 'the queue snapshot at the screen');
    // A health message published after the identify: everything up to it has been delivered.
    const healthLines = () => screen.out.split('\n').filter((l) => l.startsWith(`${root}/health `)).length;
    const seen = healthLines();
    await waitFor(() => healthLines() > seen, 'a later health message');

    const out = screen.out;
    for (const secret of [
      qr,
      DEFAULT_CITIZEN.idNumber,
      DEFAULT_CITIZEN.oldIdNumber,
      TYPED_DIGITS,
      DEFAULT_CITIZEN.fullName,
      DEFAULT_CITIZEN.dateOfBirth,
      DEFAULT_CITIZEN.dateOfBirth.replaceAll('/', ''),
      DEFAULT_CITIZEN.placeOfResidence,
    ])
      expect(out, 'personal data on MQTT').not.toContain(secret);
    expect(out).not.toContain('/card/');
    expect(out).not.toContain('/ticket/print');
    const broker = agent.lanBroker!;
    expect([...(await broker.retained()).values()].join('\n')).not.toContain(DEFAULT_CITIZEN.idNumber);
  });

  it('publishes lan events and keeps local ones in the process (the test can see what the box publishes)', async () => {
    agent.bus.emit('domain.event', { visibility: 'lan', topic: 'probe/lan', body: { marker: 'lan-marker-1' } });
    agent.bus.emit('domain.event', { visibility: 'local', topic: 'probe/local', body: { marker: 'local-marker-1' } });
    agent.bus.emit('domain.event', { visibility: 'lan', topic: 'probe/lan', body: { marker: 'lan-marker-2' } });
    await waitFor(() => screen.out.includes('lan-marker-2'), 'the second lan event at the screen');
    expect(screen.out).toContain(`${root}/probe/lan {"marker":"lan-marker-1"}`);
    expect(screen.out).not.toContain('local-marker-1');
  });

  it("refuses anonymous readers of the agent's broker", async () => {
    const r = await runClient('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(agent.lanBroker!.address.port), '-t', '#', '-C', '1', '-W', '5']);
    expect(r.err).toContain('Connection Refused: not authorised.');
    expect(r.out).toBe('');
  });
});

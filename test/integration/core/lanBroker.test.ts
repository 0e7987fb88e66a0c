// The LAN broker as a PC on the hospital LAN meets it, with Debian's mosquitto_sub/mosquitto_pub:
// no anonymous reads, no forged box state, no writes under another device's id, bounded packets,
// retained messages and silent sockets. Each refusal is checked with what the broker still holds.
import { connect, type Socket } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../../core/http/password.ts';
import { LanBroker, LanBrokerConfigError } from '../../../core/mqtt/lanBroker.ts';
import { waitFor } from '../../helpers/wait.ts';
import { requireMosquittoClients, runClient, subscribed, type Subscriber } from './lanBrokerClients.ts';

const root = 'edge/v1/bv-test/lab-01';
const STATE = JSON.stringify({ state: 'online', since: '2025-01-01T00:00:00.000Z' });
const XN1_STATE = JSON.stringify({ state: 'running' });
let broker: LanBroker;
let port: number;

/** Login options of mosquitto_sub/pub for a user (all passwords: "<user>-pass"). */
const as = (user: string, password = `${user}-pass`) => ['-h', '127.0.0.1', '-p', String(port), '-u', user, '-P', password];

beforeAll(async () => {
  requireMosquittoClients();
  broker = new LanBroker(
    {
      enabled: true,
      host: '127.0.0.1',
      port: 0,
      healthIntervalSeconds: 30,
      allowedPeers: ['127.0.0.1'],
      limits: { maxConnections: 12, maxConnectionsPerPeer: 10, idleSeconds: 0 },
      users: [
        { username: 'screen', role: 'screen', passwordHash: await hashPassword('screen-pass') },
        { username: 'led-2', role: 'device', passwordHash: await hashPassword('led-2-pass') },
        { username: 'sensor', role: 'device', device: 'spo2-3', passwordHash: await hashPassword('sensor-pass') },
      ],
      maxPacketBytes: 4096,
      connectTimeoutSeconds: 1,
      retained: { maxMessagesPerUser: 3, maxBytesPerUser: 2048 },
    },
    { root, boxDeviceIds: ['xn1'], log: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }) },
  );
  await broker.start();
  port = broker.address.port;
  // What the box itself publishes (in-process, as the controller does).
  await broker.publish(`${root}/state`, STATE, true);
  await broker.publish(`${root}/dev/xn1/state`, XN1_STATE, true);
});

afterAll(async () => {
  await broker?.stop();
});

/** The box's own retained topics are as it published them. */
async function expectBoxStateUnchanged(): Promise<void> {
  const now = await broker.retained();
  expect(now.get(`${root}/state`)).toBe(STATE);
  expect(now.get(`${root}/dev/xn1/state`)).toBe(XN1_STATE);
}

describe('logins', () => {
  it('refuses an anonymous client with CONNACK "not authorised"; it reads nothing', async () => {
    const before = broker.refused.login;
    const r = await runClient('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-t', '#', '-v', '-C', '1', '-W', '5']);
    expect(r.err).toContain('Connection Refused: not authorised.');
    expect(r.out).toBe('');
    expect(broker.refused.login).toBe(before + 1);
  });

  it('refuses a wrong password and an unknown user with "bad user name or password"', async () => {
    for (const [user, password] of [
      ['screen', 'guess'],
      ['admin', 'admin'],
    ] as const) {
      const r = await runClient('mosquitto_sub', [...as(user, password), '-t', '#', '-v', '-C', '1', '-W', '5']);
      expect(r.err, user).toContain('Connection Refused: bad user name or password.');
      expect(r.out).toBe('');
    }
  });

  it('lets a screen user read the box state, retained', async () => {
    const r = await runClient('mosquitto_sub', [...as('screen'), '-t', `${root}/state`, '-v', '-C', '1', '-W', '5']);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(`${root}/state ${STATE}`);
  });

  it('refuses a user listed as a box device or twice at start', () => {
    const context = { root, boxDeviceIds: ['xn1'], log: pino({ level: 'silent' }) };
    expect(
      () => new LanBroker({ enabled: true, host: '127.0.0.1', port: 0, healthIntervalSeconds: 30, users: [{ username: 'xn1', role: 'device' }] }, context),
    ).toThrow(LanBrokerConfigError);
    expect(
      () =>
        new LanBroker(
          {
            enabled: true,
            host: '127.0.0.1',
            port: 0,
            healthIntervalSeconds: 30,
            users: [
              { username: 'a', role: 'device', device: 'd' },
              { username: 'b', role: 'device', device: 'd' },
            ],
          },
          context,
        ),
    ).toThrow(/both publish as device "d"/);
  });
});

describe('topic ACLs', () => {
  let watcher: Subscriber;

  beforeAll(async () => {
    // A screen watching the whole tree while the attacks run.
    watcher = await subscribed([...as('screen'), '-t', '#', '-v'], `${root}/state`, 'the watching screen to get the box state');
  });

  afterAll(async () => {
    await watcher?.stop();
  });

  it('closes a device that publishes a retained box state; the box state stays and nobody sees the forgery', async () => {
    const before = broker.refused.publish;
    const forged = JSON.stringify({ state: 'online', forged: true });
    const r = await runClient('mosquitto_pub', [...as('led-2'), '-t', `${root}/state`, '-m', forged, '-r', '-q', '1']);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('The connection was lost.');
    expect(broker.refused.publish).toBe(before + 1);
    // QoS 0 gets no answer at all, but is dropped just the same.
    await runClient('mosquitto_pub', [...as('led-2'), '-t', `${root}/health`, '-m', forged, '-r']);
    await waitFor(() => broker.refused.publish === before + 2, 'the QoS 0 forgery refused');
    await expectBoxStateUnchanged();
    const later = await runClient('mosquitto_sub', [...as('screen'), '-t', `${root}/state`, '-v', '-C', '1', '-W', '5']);
    expect(later.out.trim()).toBe(`${root}/state ${STATE}`);
    expect(watcher.out).not.toContain('forged');
  });

  it("closes a device that publishes under another device's id or a box device's state; a screen publishes nothing", async () => {
    const before = broker.refused.publish;
    const attempts: Array<[string, string]> = [
      ['led-2', `${root}/dev/spo2-3/reading`],
      ['led-2', `${root}/dev/xn1/state`],
      ['sensor', `${root}/dev/led-2/state`],
      ['led-2', `${root}/queue/noi/snapshot`],
      ['screen', `${root}/dev/screen/state`],
      ['led-2', 'edge/v1/bv-test/lab-02/dev/led-2/state'],
    ];
    for (const [user, topic] of attempts) {
      const r = await runClient('mosquitto_pub', [...as(user), '-t', topic, '-m', 'forged-by-test', '-r', '-q', '1']);
      expect(r.err, `${user} → ${topic}`).toContain('The connection was lost.');
    }
    expect(broker.refused.publish).toBe(before + attempts.length);
    await expectBoxStateUnchanged();
    expect([...(await broker.retained()).values()].join('\n')).not.toContain('forged-by-test');
    expect(broker.retainedUsage).not.toHaveProperty('screen');
    // The device's own topic works: the refusals above are the ACL, not a broken publish.
    const own = await runClient('mosquitto_pub', [...as('led-2'), '-t', `${root}/dev/led-2/state`, '-m', 'own-state', '-q', '1']);
    expect(own.code).toBe(0);
    await waitFor(() => watcher.out.includes(`${root}/dev/led-2/state own-state`), "the device's own state reaching the screen");
    expect(watcher.out).not.toContain('forged-by-test');
  });

  it('refuses subscriptions outside the box tree (SUBACK 0x80); # reads only the box tree', async () => {
    const before = broker.refused.subscribe;
    for (const filter of ['$SYS/#', 'edge/v1/bv-test/lab-02/#', 'edge/v1/other/+/state']) {
      const r = await runClient('mosquitto_sub', [...as('screen'), '-t', filter, '-v', '-C', '1', '-W', '5']);
      expect(r.err, filter).toContain('All subscription requests were denied.');
      expect(r.out).toBe('');
    }
    expect(broker.refused.subscribe).toBe(before + 3);
    const all = await runClient('mosquitto_sub', [...as('led-2'), '-t', '#', '-v', '-C', '2', '-W', '5']);
    expect(all.code).toBe(0);
    expect(
      all.out
        .split('\n')
        .filter(Boolean)
        .every((line) => line.startsWith(`${root}/`)),
    ).toBe(true);
  });

  it("keeps client ids per user: a device reusing a screen's client id does not disconnect it", async () => {
    // "%r": the retained flag. A screen that was disconnected resubscribes and gets the retained state again.
    const screen = await subscribed(
      [...as('screen'), '-i', 'call-screen-hall', '-t', `${root}/state`, '-F', '%r %t %p'],
      `${root}/state`,
      'the hall screen subscribed',
    );
    try {
      const r = await runClient('mosquitto_pub', [...as('led-2'), '-i', 'call-screen-hall', '-t', `${root}/dev/led-2/ping`, '-m', '1', '-q', '1']);
      expect(r.code).toBe(0);
      await broker.publish(`${root}/state`, STATE, true);
      await waitFor(() => screen.out.split('\n').filter(Boolean).length >= 2, 'a second message at the hall screen');
      expect(screen.out.split('\n').filter(Boolean)).toEqual([`1 ${root}/state ${STATE}`, `0 ${root}/state ${STATE}`]);
    } finally {
      await screen.stop();
    }
  });
});

describe('quotas', () => {
  it('closes a connection that sends a packet over maxPacketBytes; the broker keeps serving others and stores nothing', async () => {
    const watcher = await subscribed([...as('screen'), '-t', '#', '-v'], `${root}/state`, 'a screen watching');
    try {
      const before = broker.refused['packet-size'];
      const r = await runClient('mosquitto_pub', [...as('led-2'), '-t', `${root}/dev/led-2/big`, '-s', '-r', '-q', '1'], Buffer.alloc(64 * 1024, 0x41));
      expect(r.code).not.toBe(0);
      expect(r.err).toContain('The connection was lost.');
      expect(broker.refused['packet-size']).toBe(before + 1);
      expect((await broker.retained()).has(`${root}/dev/led-2/big`)).toBe(false);
      // Others are still served: the watching screen gets a new box message, a new client publishes.
      await broker.publish(`${root}/health`, { after: 'oversize' }, true);
      await waitFor(() => watcher.out.includes('{"after":"oversize"}'), 'the screen still served');
      const small = await runClient('mosquitto_pub', [...as('led-2'), '-t', `${root}/dev/led-2/small`, '-m', 'ok', '-q', '1']);
      expect(small.code).toBe(0);
      expect(watcher.code).toBeNull();
      expect(watcher.out).not.toContain('AAAA');
    } finally {
      await watcher.stop();
    }
  });

  it('refuses retained messages beyond the per-user quota; what is held stays bounded', async () => {
    const before = broker.refused.retained;
    const results: number[] = [];
    for (let i = 0; i < 6; i++)
      results.push((await runClient('mosquitto_pub', [...as('sensor'), '-t', `${root}/dev/spo2-3/flood/${i}`, '-m', `reading-${i}`, '-r', '-q', '1'])).code);
    expect(results.slice(0, 3)).toEqual([0, 0, 0]);
    expect(results.slice(3).every((c) => c !== 0)).toBe(true);
    expect(broker.refused.retained).toBe(before + 3);
    const held = [...(await broker.retained()).keys()].filter((t) => t.startsWith(`${root}/dev/spo2-3/`));
    expect(held.sort()).toEqual([0, 1, 2].map((i) => `${root}/dev/spo2-3/flood/${i}`));
    // A big one within maxPacketBytes but over maxBytesPerUser, replacing a held topic: refused too.
    const big = await runClient('mosquitto_pub', [...as('sensor'), '-t', `${root}/dev/spo2-3/flood/0`, '-s', '-r', '-q', '1'], Buffer.alloc(3000, 0x42));
    expect(big.code).not.toBe(0);
    expect((await broker.retained()).get(`${root}/dev/spo2-3/flood/0`)).toBe('reading-0');
    expect(broker.retainedUsage.sensor!.messages).toBe(3);
    expect(broker.retainedUsage.sensor!.bytes).toBeLessThanOrEqual(2048);
    // Deleting one (empty retained payload) makes room again.
    expect((await runClient('mosquitto_pub', [...as('sensor'), '-t', `${root}/dev/spo2-3/flood/2`, '-n', '-r', '-q', '1'])).code).toBe(0);
    expect((await runClient('mosquitto_pub', [...as('sensor'), '-t', `${root}/dev/spo2-3/flood/5`, '-m', 'reading-5', '-r', '-q', '1'])).code).toBe(0);
    expect(broker.retainedUsage.sensor!.messages).toBe(3);
    await expectBoxStateUnchanged();
  });

  it('closes a socket that never sends CONNECT (connectTimeoutSeconds)', async () => {
    const socket: Socket = connect({ host: '127.0.0.1', port });
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    await new Promise<void>((r) => socket.once('connect', () => r()));
    await closed;
    expect(socket.destroyed).toBe(true);
  });

  it('refuses a peer outside allowedPeers before any MQTT', async () => {
    const socket: Socket = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' });
    let got = '';
    socket.on('data', (d) => (got += d));
    socket.on('error', () => undefined);
    socket.on('connect', () => socket.write(Buffer.from([0x10, 0x00])));
    await new Promise<void>((r) => socket.once('close', () => r()));
    expect(got).toBe('');
  });
});

import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GuardedListener, type ListenerLimits } from '../../../core/net/guardedListener.ts';
import { PeerAllowList, PeerListError } from '../../../core/net/peers.ts';
import { initBoxCertificates, issueClientCertificate } from '../../../core/net/certs.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';

const log = pino({ level: 'silent' });
const limits: ListenerLimits = { maxConnections: 4, maxConnectionsPerPeer: 2, idleSeconds: 0 };

/** A client socket from a chosen loopback address (127.0.0.2 plays another PC on the LAN). */
function dial(port: number, from = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', localAddress: from }, () => resolve(s));
    s.once('error', reject);
  });
}

function closed(s: Socket): Promise<void> {
  return new Promise((r) => (s.destroyed || s.closed ? r() : s.once('close', () => r())));
}

async function echoListener(allow: string[] | undefined, l: ListenerLimits = limits, extra: Partial<ConstructorParameters<typeof GuardedListener>[0]> = {}) {
  const listener = new GuardedListener({
    name: 'test',
    host: '127.0.0.1',
    port: 0,
    allow: new PeerAllowList(allow),
    limits: l,
    log,
    onConnection: (s) => s.on('data', (d) => s.write(d)),
    ...extra,
  });
  await listener.start();
  return listener;
}

async function echoes(s: Socket): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), 1000);
    s.once('data', () => {
      clearTimeout(t);
      resolve(true);
    });
    s.once('close', () => resolve(false));
    s.write('x');
  });
}

describe('PeerAllowList', () => {
  it('matches addresses and networks, IPv4 on dual-stack sockets too', () => {
    const list = new PeerAllowList(['10.0.5.21', '192.168.1.0/24', 'fd00::/8']);
    expect(list.allows('10.0.5.21')).toBe(true);
    expect(list.allows('::ffff:10.0.5.21')).toBe(true);
    expect(list.allows('10.0.5.22')).toBe(false);
    expect(list.allows('192.168.1.200')).toBe(true);
    expect(list.allows('192.168.2.1')).toBe(false);
    expect(list.allows('fd00::5')).toBe(true);
    expect(list.allows('fe80::1')).toBe(false);
    expect(list.allows(undefined)).toBe(false);
  });

  it('admits only the box itself when nothing is listed', () => {
    const list = new PeerAllowList([]);
    expect(list.allows('127.0.0.1')).toBe(true);
    expect(list.allows('::1')).toBe(true);
    expect(list.allows('10.0.0.1')).toBe(false);
    expect(new PeerAllowList(['any']).allows('203.0.113.9')).toBe(true);
  });

  it('refuses entries it cannot match, naming them', () => {
    expect(() => new PeerAllowList(['10.0.5.0/40'])).toThrow(PeerListError);
    expect(() => new PeerAllowList(['lab-pc'])).toThrow(/"lab-pc" is not an IP address/);
  });
});

describe('GuardedListener', () => {
  it('refuses a peer that is not listed and serves the listed one', async () => {
    const refused: string[] = [];
    const listener = await echoListener(['127.0.0.1'], limits, { onRefused: (reason, remote) => refused.push(`${reason} ${remote}`) });
    const stranger = await dial(listener.address.port, '127.0.0.2');
    await closed(stranger);
    const device = await dial(listener.address.port);
    expect(await echoes(device)).toBe(true);
    expect(refused).toEqual(['not-allowed 127.0.0.2']);
    device.destroy();
    await listener.stop();
  });

  it('a peer at its cap makes room with its idlest connection; busy ones are kept and the newcomer refused', async () => {
    const listener = await echoListener(['127.0.0.0/8']);
    const port = listener.address.port;
    const a = await dial(port);
    const b = await dial(port);
    // Both idle for more than the eviction threshold: the new connection replaces the older one.
    await new Promise((r) => setTimeout(r, 2_100));
    expect(await echoes(b)).toBe(true); // b is busy now
    const c = await dial(port);
    await closed(a);
    expect(await echoes(c)).toBe(true);
    expect(await echoes(b)).toBe(true);
    // Both busy: a fourth from the same address is refused, another address still gets in.
    const d = await dial(port);
    await closed(d);
    expect(listener.refused['too-many-from-peer']).toBe(1);
    const other = await dial(port, '127.0.0.3');
    expect(await echoes(other)).toBe(true);
    for (const s of [b, c, other]) s.destroy();
    await listener.stop();
  });

  it('four idle sockets from another address never lock the device out', async () => {
    const listener = await echoListener(['127.0.0.0/8'], { maxConnections: 4, maxConnectionsPerPeer: 4, idleSeconds: 0 });
    const port = listener.address.port;
    const flood = await Promise.all([1, 2, 3, 4].map(() => dial(port, '127.0.0.9')));
    await new Promise((r) => setTimeout(r, 2_100));
    const device = await dial(port, '127.0.0.1');
    expect(await echoes(device)).toBe(true);
    expect(flood.filter((s) => s.destroyed || s.closed).length).toBeGreaterThanOrEqual(1);
    device.destroy();
    flood.forEach((s) => s.destroy());
    await listener.stop();
  });

  it('closes a connection idle for idleSeconds', async () => {
    const listener = await echoListener(undefined, { maxConnections: 4, maxConnectionsPerPeer: 4, idleSeconds: 1 });
    const s = await dial(listener.address.port);
    const t0 = Date.now();
    await closed(s);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    await listener.stop();
  });
});

describe('TLS listener and box certificates', () => {
  const tmp = tempDir('edge-tls-');
  let certs: ReturnType<typeof initBoxCertificates>;
  let client: { cert: string; key: string };
  beforeAll(() => {
    certs = initBoxCertificates({ dir: join(tmp.dir, 'tls'), boxId: 'test-box', names: ['localhost', '127.0.0.1'] });
    client = issueClientCertificate(certs.dir, 'lis');
  });
  afterAll(() => tmp.cleanup());

  it('certs init keeps an existing CA and reports its fingerprint', () => {
    const again = initBoxCertificates({ dir: certs.dir, boxId: 'test-box' });
    expect(again.created).toBe(false);
    expect(again.caFingerprint).toBe(certs.caFingerprint);
    expect(certs.caFingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it('requires a client certificate signed by the box CA when told to', async () => {
    const listener = await echoListener(undefined, limits, {
      tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert, requireClientCert: true },
    });
    const port = listener.address.port;
    const ca = readFileSync(certs.caCert);
    const attempt = (withCert: boolean) =>
      new Promise<string>((resolve) => {
        const s = tlsConnect(
          { port, host: '127.0.0.1', servername: 'localhost', ca, ...(withCert ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}) },
          () => {
            s.once('data', (d) => {
              resolve(`echo ${d.toString()}`);
              s.destroy();
            });
            s.write('hi');
          },
        );
        s.once('error', (err) => resolve(`error ${err.message}`));
        s.once('close', () => resolve('closed'));
      });
    expect(await attempt(true)).toBe('echo hi');
    expect(await attempt(false)).toMatch(/error|closed/);
    await waitFor(() => listener.refused['tls-handshake'] >= 1, 'the handshake refusal to be counted');
    await listener.stop();
  });

  it('a busy TLS connection is never taken for idle; an idle one is closed', async () => {
    const listener = await echoListener(
      undefined,
      { maxConnections: 4, maxConnectionsPerPeer: 1, idleSeconds: 2 },
      { tls: { cert: certs.serverCert, key: certs.serverKey } },
    );
    const port = listener.address.port;
    const ca = readFileSync(certs.caCert);
    const open = () =>
      new Promise<import('node:tls').TLSSocket>((resolve, reject) => {
        const s = tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', ca }, () => resolve(s));
        s.once('error', reject);
      });
    const busy = await open();
    busy.on('data', () => undefined);
    // Bytes every 300 ms for 3 s: longer than the eviction threshold and the idle timeout.
    for (let i = 0; i < 10; i++) {
      busy.write('x');
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(busy.destroyed).toBe(false);
    // At its cap with a busy connection: the newcomer is refused, the busy one kept.
    const second = await open().catch(() => null);
    if (second) await new Promise((r) => (second.destroyed ? r(null) : second.once('close', r)));
    expect(busy.destroyed).toBe(false);
    expect(listener.refused['too-many-from-peer']).toBe(1);
    // Quiet now: closed after idleSeconds.
    await new Promise((r) => busy.once('close', r));
    await listener.stop();
  });
});

// MQTT over TLS on the LAN broker's second port, with Debian's mosquitto_sub/mosquitto_pub and
// certificates from the box CA (`edge-agent certs init` / `certs client`).
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../../core/http/password.ts';
import { LanBroker, type LanBrokerConfig } from '../../../core/mqtt/lanBroker.ts';
import { initBoxCertificates, issueClientCertificate, type BoxCertificates } from '../../../core/net/certs.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { requireMosquittoClients, runClient } from './lanBrokerClients.ts';

const root = 'edge/v1/bv-test/lab-01';
const STATE = JSON.stringify({ state: 'online' });
const { dir, cleanup } = tempDir('edge-lan-tls-');
let certs: BoxCertificates;
let ledCert: { cert: string; key: string };
let strangerCert: { cert: string; key: string };
const brokers: LanBroker[] = [];

async function startBroker(tls: Partial<NonNullable<LanBrokerConfig['tls']>>): Promise<LanBroker> {
  const broker = new LanBroker(
    {
      enabled: true,
      host: '127.0.0.1',
      port: 0,
      healthIntervalSeconds: 30,
      users: [
        { username: 'screen', role: 'screen', passwordHash: await hashPassword('screen-pass') },
        // Logs in only with its certificate (no password).
        { username: 'led-2', role: 'device' },
      ],
      tls: { port: 0, cert: certs.serverCert, key: certs.serverKey, ...tls },
    },
    { root, boxDeviceIds: [], log: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }) },
  );
  await broker.start();
  await broker.publish(`${root}/state`, STATE, true);
  brokers.push(broker);
  return broker;
}

const tlsPort = (b: LanBroker) => String(b.tlsAddress!.port);
const screenLogin = ['-u', 'screen', '-P', 'screen-pass'];

beforeAll(() => {
  requireMosquittoClients();
  certs = initBoxCertificates({ dir, boxId: 'lab-01', names: ['localhost', '127.0.0.1'] });
  ledCert = issueClientCertificate(dir, 'led-2');
  strangerCert = issueClientCertificate(dir, 'stranger');
});

afterAll(async () => {
  await Promise.all(brokers.map((b) => b.stop()));
  cleanup();
});

describe('the TLS listener, client certificates optional', () => {
  let broker: LanBroker;
  beforeAll(async () => {
    broker = await startBroker({ ca: certs.caCert });
  });

  it('serves an authenticated mosquitto_sub --cafile on the TLS port', async () => {
    const r = await runClient('mosquitto_sub', [
      '-h',
      '127.0.0.1',
      '-p',
      tlsPort(broker),
      '--cafile',
      certs.caCert,
      ...screenLogin,
      '-t',
      `${root}/state`,
      '-v',
      '-C',
      '1',
      '-W',
      '5',
    ]);
    expect(r.err).toBe('');
    expect(r.out.trim()).toBe(`${root}/state ${STATE}`);
  });

  it('still refuses an anonymous client over TLS (CONNACK 5)', async () => {
    const r = await runClient('mosquitto_sub', ['-h', '127.0.0.1', '-p', tlsPort(broker), '--cafile', certs.caCert, '-t', '#', '-C', '1', '-W', '5']);
    expect(r.err).toContain('Connection Refused: not authorised.');
    expect(r.out).toBe('');
  });

  it('logs a device in by its certificate CN, with its ACL (own topics only)', async () => {
    const tls = ['-h', '127.0.0.1', '-p', tlsPort(broker), '--cafile', certs.caCert, '--cert', ledCert.cert, '--key', ledCert.key];
    expect((await runClient('mosquitto_pub', [...tls, '-t', `${root}/dev/led-2/state`, '-m', 'cert-login', '-r', '-q', '1'])).code).toBe(0);
    await waitFor(async () => (await broker.retained()).get(`${root}/dev/led-2/state`) === 'cert-login', "the device's own retained state");
    const forged = await runClient('mosquitto_pub', [...tls, '-t', `${root}/state`, '-m', 'forged', '-r', '-q', '1']);
    expect(forged.err).toContain('The connection was lost.');
    expect((await broker.retained()).get(`${root}/state`)).toBe(STATE);
  });

  it('refuses a certificate from the box CA whose CN is not a user (CONNACK 5)', async () => {
    const r = await runClient('mosquitto_sub', [
      '-h',
      '127.0.0.1',
      '-p',
      tlsPort(broker),
      '--cafile',
      certs.caCert,
      '--cert',
      strangerCert.cert,
      '--key',
      strangerCert.key,
      '-t',
      '#',
      '-C',
      '1',
      '-W',
      '5',
    ]);
    expect(r.err).toContain('Connection Refused: not authorised.');
    expect(r.out).toBe('');
  });

  it('fails plain MQTT sent to the TLS port', async () => {
    const before = broker.connectionsRefused.tls!['tls-handshake'];
    const r = await runClient('mosquitto_sub', ['-h', '127.0.0.1', '-p', tlsPort(broker), ...screenLogin, '-t', '#', '-v', '-C', '1', '-W', '2']);
    expect(r.code).not.toBe(0);
    expect(r.out).toBe('');
    // mosquitto_sub retries: each attempt is a failed handshake.
    expect(broker.connectionsRefused.tls!['tls-handshake']).toBeGreaterThan(before);
  });
});

describe('the TLS listener with requireClientCert', () => {
  let broker: LanBroker;
  beforeAll(async () => {
    broker = await startBroker({ ca: certs.caCert, requireClientCert: true });
  });

  it('refuses the TLS handshake of a client without a certificate, password or not', async () => {
    const before = broker.connectionsRefused.tls!['tls-handshake'];
    const r = await runClient('mosquitto_sub', [
      '-h',
      '127.0.0.1',
      '-p',
      tlsPort(broker),
      '--cafile',
      certs.caCert,
      ...screenLogin,
      '-t',
      '#',
      '-v',
      '-C',
      '1',
      '-W',
      '5',
    ]);
    expect(r.err).toContain('The connection was lost.');
    expect(r.out).toBe('');
    expect(broker.connectionsRefused.tls!['tls-handshake']).toBe(before + 1);
  });

  it('serves mosquitto_sub with --cert/--key', async () => {
    const r = await runClient('mosquitto_sub', [
      '-h',
      '127.0.0.1',
      '-p',
      tlsPort(broker),
      '--cafile',
      certs.caCert,
      '--cert',
      ledCert.cert,
      '--key',
      ledCert.key,
      '-t',
      `${root}/state`,
      '-v',
      '-C',
      '1',
      '-W',
      '5',
    ]);
    expect(r.err).toBe('');
    expect(r.out.trim()).toBe(`${root}/state ${STATE}`);
  });

  it('keeps the plain port for password logins (the same users)', async () => {
    const r = await runClient('mosquitto_sub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(broker.address.port),
      ...screenLogin,
      '-t',
      `${root}/state`,
      '-v',
      '-C',
      '1',
      '-W',
      '5',
    ]);
    expect(r.out.trim()).toBe(`${root}/state ${STATE}`);
  });
});

// The console and API over HTTPS with the box CA (edge-agent certs init), checked with Debian's
// openssl s_client and real HTTPS and WebSocket clients; plain HTTP only on 127.0.0.1 for the
// browsers on the box.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { initBoxCertificates, type BoxCertificates } from '../../../core/net/certs.ts';
import { certificateFingerprint } from '../../../core/net/tls.ts';
import { TEST_PASSWORD } from '../../helpers/agentConfig.ts';
import { freePort } from '../../helpers/ports.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { basic, call, startHttpTestAgent, type HttpTestAgent } from './httpTestAgent.ts';

const run = promisify(execFile);
const certsTmp = tempDir('edge-http-certs-');
let certs: BoxCertificates;
let other: BoxCertificates;
let box: HttpTestAgent;
let loopbackPort: number;
let ca: Buffer;

beforeAll(async () => {
  certs = initBoxCertificates({ dir: join(certsTmp.dir, 'box'), boxId: 'http-box', names: ['localhost', '127.0.0.1'] });
  other = initBoxCertificates({ dir: join(certsTmp.dir, 'other'), boxId: 'someone-else', names: ['127.0.0.1'] });
  ca = readFileSync(certs.caCert);
  loopbackPort = await freePort();
  box = await startHttpTestAgent({
    scheme: 'https',
    httpLines: `  tls: { cert: ${certs.serverCert}, key: ${certs.serverKey} }\n  loopbackPort: ${loopbackPort}`,
  });
});
afterAll(async () => {
  await box?.close();
  certsTmp.cleanup();
});

/** openssl s_client's verdict on the box's certificate, checked against `caFile`. */
async function sClient(caFile: string): Promise<string> {
  const r = await run(
    'sh',
    ['-c', `openssl s_client -connect 127.0.0.1:${box.agent.httpPort} -CAfile ${caFile} -verify_ip 127.0.0.1 -servername localhost < /dev/null 2>&1`],
    { timeout: 15_000 },
  ).catch((e: { stdout: string }) => ({ stdout: e.stdout }));
  return r.stdout;
}

describe('HTTPS console', () => {
  it('openssl s_client verifies the box certificate against the box CA (verify return code 0), and not against another CA', async () => {
    const good = await sClient(certs.caCert);
    expect(good).toMatch(/Verify return code: 0 \(ok\)/);
    expect(good).toMatch(/New, TLSv1\.[23], Cipher is /);
    const bad = await sClient(other.caCert);
    expect(bad).not.toMatch(/Verify return code: 0 \(ok\)/);
    expect(bad).toMatch(/Verify return code: (19|20|21)/);
  });

  it('answers HTTPS requests, shows the box CA fingerprint, and the session cookie is Secure', async () => {
    const tls = await call(box.url, 'GET', '/api/tls', { ca });
    expect(tls.json()).toEqual({ https: true, caFingerprint: certificateFingerprint(certs.caCert), loopbackPort });
    expect(certs.caFingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const login = await call(box.url, 'POST', '/api/login', { ca, json: { user: 'admin', password: TEST_PASSWORD } });
    expect(login.status).toBe(200);
    expect(String(login.headers['set-cookie'])).toMatch(/; Secure$/);
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    // The page's own origin is https://…: an http:// Origin is another origin.
    expect((await call(box.url, 'POST', '/api/config/validate', { ca, headers: { cookie, origin: box.url }, json: { text: 'version: 1' } })).status).toBe(200);
    expect(
      (
        await call(box.url, 'POST', '/api/config/validate', {
          ca,
          headers: { cookie, origin: box.url.replace('https:', 'http:') },
          json: { text: 'version: 1' },
        })
      ).status,
    ).toBe(403);
  });

  it('refuses a client that does not trust the box CA, and speaks no plain HTTP on the HTTPS port', async () => {
    await expect(call(box.url, 'GET', '/healthz')).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
    await expect(call(box.url.replace('https:', 'http:'), 'GET', '/healthz')).rejects.toThrow();
  });

  it('serves plain HTTP on 127.0.0.1:loopbackPort only, with the same routes, guards and WebSockets', async () => {
    const plain = `http://127.0.0.1:${loopbackPort}`;
    expect((await call(plain, 'GET', '/healthz')).status).toBe(200);
    expect((await call(plain, 'GET', '/api/devices')).status).toBe(401);
    expect((await call(plain, 'GET', '/api/devices', { headers: basic('admin', TEST_PASSWORD) })).status).toBe(200);
    expect((await call(plain, 'GET', '/api/tls')).json()).toMatchObject({ https: true });
    // Bound to 127.0.0.1 alone: the same port on another address of the machine is closed.
    await expect(call(`http://127.0.0.2:${loopbackPort}`, 'GET', '/healthz')).rejects.toThrow(/ECONNREFUSED/);
    for (const url of [`ws://127.0.0.1:${loopbackPort}/api/kiosk/live`, `wss://127.0.0.1:${box.agent.httpPort}/api/kiosk/live`]) {
      const origin = url.startsWith('wss') ? box.url : plain;
      const ws = new WebSocket(url, { origin, ca });
      await new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject)));
      ws.close();
    }
  });
});

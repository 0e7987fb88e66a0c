// What the box shows a browser: security headers everywhere, no answer to a foreign Host (DNS
// rebinding), nothing but page assets under the page folders, /metrics and /openapi.json behind
// their setting. Raw HTTP from outside against a started agent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { TEST_PASSWORD } from '../../helpers/agentConfig.ts';
import { basic, call, startHttpTestAgent, type HttpTestAgent } from './httpTestAgent.ts';

let box: HttpTestAgent;

beforeAll(async () => {
  box = await startHttpTestAgent({ httpLines: '  allowedHosts: [edge-box.bv.local]' });
});
afterAll(async () => {
  await box?.close();
});

const REQUIRED = {
  'content-security-policy': /^default-src 'self'; script-src 'self'; style-src 'self';.*frame-ancestors 'none'/,
  'x-content-type-options': /^nosniff$/,
  'referrer-policy': /^same-origin$/,
  'x-frame-options': /^DENY$/,
};

describe('security headers', () => {
  it('are on every page, script, API answer and error', async () => {
    const cookie = await box.login();
    const answers = [
      await call(box.url, 'GET', '/'),
      await call(box.url, 'GET', '/console/'),
      await call(box.url, 'GET', '/console/console.js'),
      await call(box.url, 'GET', '/status/status.css'),
      await call(box.url, 'GET', '/healthz'),
      await call(box.url, 'GET', '/api/devices', { headers: { cookie } }),
      await call(box.url, 'GET', '/api/devices'),
      await call(box.url, 'GET', '/no/such/page'),
      await call(box.url, 'POST', '/api/login', { json: { user: 'x'.repeat(100), password: 'y' } }),
      await call(box.url, 'POST', '/api/login', { body: 'x'.repeat(10_000), headers: { 'content-type': 'application/json' } }),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200, 401, 404, 400, 413]);
    for (const a of answers) for (const [name, pattern] of Object.entries(REQUIRED)) expect(String(a.headers[name]), name).toMatch(pattern);
    // API answers (personal data) stay out of the browser cache.
    expect(answers[5]!.headers['cache-control']).toBe('no-store');
  });

  it('the pages have no inline script or style left for the CSP to block', async () => {
    for (const page of ['/', '/console/']) {
      const html = (await call(box.url, 'GET', page)).text;
      expect(html).not.toMatch(/<script>|<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=/i);
    }
  });
});

describe('Host check against DNS rebinding', () => {
  it('refuses a request naming another host (evil.example resolving to the box), pages and API alike, and nothing is served', async () => {
    const cookie = await box.login();
    for (const path of ['/', '/console/', '/api/devices', '/healthz']) {
      const res = await call(box.url, 'GET', path, { headers: { host: 'evil.example', cookie } });
      expect(res.status, path).toBe(403);
      expect(res.json().error).toBe('this box does not answer to the host name "evil.example"; if it is the box\'s name, add it to http.allowedHosts');
      expect(res.text).not.toContain('monitor');
    }
    const write = await call(box.url, 'POST', '/api/outbox/central/retry', {
      headers: { host: 'evil.example:8080', origin: 'http://evil.example:8080', cookie },
      json: {},
    });
    expect(write.status).toBe(403);
  });

  it('answers to localhost, 127.0.0.1 and the names in http.allowedHosts', async () => {
    for (const host of ['localhost', `127.0.0.1:${box.agent.httpPort}`, 'edge-box.bv.local:8080'])
      expect((await call(box.url, 'GET', '/healthz', { headers: { host } })).status, host).toBe(200);
  });

  it('refuses a WebSocket upgrade naming another host, and closes that connection', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const s = connect(box.agent.httpPort, '127.0.0.1', () =>
        s.write(
          'GET /api/queue/live HTTP/1.1\r\nHost: evil.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
        ),
      );
      let text = '';
      s.on('data', (d) => (text += d));
      // The box ends the refused upgrade's socket (a half-open one left behind would pile up).
      s.on('close', () => resolve(text));
      s.on('error', reject);
      setTimeout(() => (s.destroy(), reject(new Error(`the box left the refused upgrade open: ${text}`))), 5000);
    });
    expect(answer).toMatch(/^HTTP\/1.1 403/);
  });
});

describe('page folders', () => {
  it('serve no sources: `..` out of kiosk/, .ts files, type declarations and dot files are 404', async () => {
    for (const path of [
      '/kiosk/../core/http/auth.ts',
      '/kiosk/%2e%2e/core/http/auth.ts',
      '/../package.json',
      '/kiosk/..%2f..%2fpackage.json',
      '/audio/generate.ts',
      '/call-screen/phrase.d.ts',
      '/audio/.gitignore',
      '/console/console.js/x',
    ]) {
      const res = await call(box.url, 'GET', path);
      expect(res.status, path).toBe(404);
      expect(res.text).not.toMatch(/import |export |ConsoleAuth|"dependencies"/);
    }
  });

  it('still serve the pages and their folders', async () => {
    expect((await call(box.url, 'GET', '/kiosk/')).status).toBe(200);
    expect((await call(box.url, 'GET', '/kiosk')).status).toBe(301);
    expect((await call(box.url, 'GET', '/call-screen/phrase.js')).status).toBe(200);
  });
});

describe('/metrics and /openapi.json', () => {
  it('need a login by default', async () => {
    for (const path of ['/metrics', '/openapi.json']) {
      expect((await call(box.url, 'GET', path)).status, path).toBe(401);
      expect((await call(box.url, 'GET', path, { headers: basic('admin', TEST_PASSWORD) })).status, path).toBe(200);
    }
  });

  it('are absent with `off` and open with `open`', async () => {
    const off = await startHttpTestAgent({ httpLines: '  metrics: off\n  openapi: open' });
    try {
      expect((await call(off.url, 'GET', '/metrics', { headers: basic('admin', TEST_PASSWORD) })).status).toBe(404);
      const doc = await call(off.url, 'GET', '/openapi.json');
      expect(doc.status).toBe(200);
      expect(doc.json().openapi).toMatch(/^3\./);
    } finally {
      await off.close();
    }
  });
});

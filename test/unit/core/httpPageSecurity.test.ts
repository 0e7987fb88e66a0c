import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { hostname } from 'node:os';
import { AllowedHosts, hostnameOf } from '../../../core/http/origin.ts';
import { isPageAsset } from '../../../core/http/pageSecurity.ts';
import { SessionStore } from '../../../core/http/sessions.ts';

const KIOSK_ROOT = fileURLToPath(new URL('../../../kiosk/', import.meta.url));

describe('Host check (DNS rebinding)', () => {
  const hosts = new AllowedHosts({ listenHost: '0.0.0.0', extra: ['edge-box.bv.local'] });

  it('admits the box: localhost, loopback, its host name, allowedHosts, with or without a port', () => {
    for (const h of ['localhost', 'localhost:8080', '127.0.0.1:8080', '[::1]:8080', `${hostname()}:8080`, 'EDGE-BOX.bv.local', 'edge-box.bv.local.:443'])
      expect(hosts.allows(h), h).toBe(true);
  });

  it('refuses any other name, however it is written', () => {
    for (const h of ['evil.example', 'evil.example:8080', 'localhost.evil.example', '127.0.0.1.nip.io', 'edge-box.bv.local@evil.example', '', '[::2]:80'])
      expect(hosts.allows(h), h).toBe(false);
  });

  it('parses Host headers', () => {
    expect(hostnameOf('Box.Local:8080')).toBe('box.local');
    expect(hostnameOf('[fe80::1]:8443')).toBe('fe80::1');
    expect(hostnameOf('a b')).toBeUndefined();
  });
});

describe('static page folders serve page assets only', () => {
  it('serves pages, scripts (the shared page library too), styles, images and sounds, and folders (their index.html)', () => {
    for (const p of ['/console/console.js', '/lib/page.js', '/console/index.html', '/status/status.css', '/audio/clips/goi.wav', '/kiosk/', '/kiosk'])
      expect(isPageAsset(p, KIOSK_ROOT), p).toBe(true);
  });

  it('refuses sources, type declarations, dot files, `..` and what is not a folder', () => {
    for (const p of [
      '/audio/generate.ts',
      '/call-screen/phrase.d.ts',
      '/audio/.gitignore',
      '/kiosk/../../core/http/auth.ts',
      '/kiosk/../',
      '/console/console.js.map',
      '/README',
      '/kiosk/kiosk.js/x',
    ]) {
      expect(isPageAsset(p, KIOSK_ROOT), p).toBe(false);
    }
  });
});

describe('sessions', () => {
  it('end after the idle time unless used, and after the absolute time in any case', () => {
    let now = 0;
    const s = new SessionStore(60_000, 10_000, () => now);
    const { token } = s.open('admin');
    now = 9_000;
    expect(s.use(token, true)).toEqual({ user: 'admin' });
    now = 18_000;
    // A background refresh keeps the page current, not the session alive.
    expect(s.use(token, false)).toEqual({ user: 'admin' });
    now = 19_500;
    expect(s.use(token, true)).toEqual({ expired: 'idle' });
    expect(s.use(token, true)).toBeUndefined();

    const second = s.open('admin').token;
    for (now = 20_000; now < 80_000; now += 5_000) expect(s.use(second, true)).toEqual({ user: 'admin' });
    expect(s.use(second, true)).toEqual({ expired: 'absolute' });
  });
});

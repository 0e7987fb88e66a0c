import { beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../../core/http/password.ts';
import { BAD_USERNAME_OR_PASSWORD, LanAuthenticator, NOT_AUTHORIZED } from '../../../core/mqtt/lanAuth.ts';
import type { LanUser } from '../../../core/mqtt/lanAcl.ts';

let users: LanUser[];
beforeAll(async () => {
  users = [
    { username: 'call-screen-1', role: 'screen', passwordHash: await hashPassword('screen-pass') },
    { username: 'led-2', role: 'device' },
  ];
});

const pw = (s: string) => Buffer.from(s);

describe('LanAuthenticator', () => {
  it('refuses an anonymous client as not authorized (CONNACK 5)', async () => {
    const auth = new LanAuthenticator(users);
    expect(await auth.login({ remote: '10.0.5.9' })).toMatchObject({ ok: false, code: NOT_AUTHORIZED });
    expect(await auth.login({ remote: '10.0.5.9', username: '', password: pw('screen-pass') })).toMatchObject({ ok: false, code: NOT_AUTHORIZED });
  });

  it('answers an unknown user, a wrong password and a certificate-only user alike (CONNACK 4)', async () => {
    const auth = new LanAuthenticator(users);
    for (const [username, password] of [
      ['nobody', 'screen-pass'],
      ['call-screen-1', 'wrong'],
      ['led-2', 'not a password of anyone'],
      ['led-2', ''],
    ] as const) {
      expect(await auth.login({ remote: '10.0.5.9', username, password: pw(password) }), `${username}/${password}`).toMatchObject({
        ok: false,
        code: BAD_USERNAME_OR_PASSWORD,
      });
    }
  });

  it('logs in with the right password, and by a verified certificate CN', async () => {
    const auth = new LanAuthenticator(users);
    expect(await auth.login({ remote: '10.0.5.9', username: 'call-screen-1', password: pw('screen-pass') })).toMatchObject({
      ok: true,
      via: 'password',
      user: { username: 'call-screen-1', role: 'screen' },
    });
    expect(await auth.login({ remote: '10.0.5.9', certificateCn: 'led-2' })).toMatchObject({ ok: true, via: 'certificate', user: { username: 'led-2' } });
    expect(await auth.login({ remote: '10.0.5.9', certificateCn: 'led-2', username: 'led-2' })).toMatchObject({ ok: true });
  });

  it('refuses a certificate whose CN is not a user, or a username that is not the CN', async () => {
    const auth = new LanAuthenticator(users);
    expect(await auth.login({ remote: '10.0.5.9', certificateCn: 'stranger' })).toMatchObject({ ok: false, code: NOT_AUTHORIZED });
    expect(await auth.login({ remote: '10.0.5.9', certificateCn: 'led-2', username: 'call-screen-1', password: pw('screen-pass') })).toMatchObject({
      ok: false,
      code: BAD_USERNAME_OR_PASSWORD,
    });
  });

  it('stops checking passwords from an address after 10 failures in 10 minutes; other addresses still log in', async () => {
    let now = 1_000_000;
    const auth = new LanAuthenticator(users, () => now);
    for (let i = 0; i < 10; i++) expect((await auth.login({ remote: '10.0.5.66', username: 'call-screen-1', password: pw(`guess-${i}`) })).ok).toBe(false);
    const locked = await auth.login({ remote: '10.0.5.66', username: 'call-screen-1', password: pw('screen-pass') });
    expect(locked).toMatchObject({ ok: false, code: BAD_USERNAME_OR_PASSWORD, reason: expect.stringContaining('failed logins from this address') });
    expect((await auth.login({ remote: '10.0.5.21', username: 'call-screen-1', password: pw('screen-pass') })).ok).toBe(true);
    now += 10 * 60_000 + 1;
    expect((await auth.login({ remote: '10.0.5.66', username: 'call-screen-1', password: pw('screen-pass') })).ok).toBe(true);
  });
});

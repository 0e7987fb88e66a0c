import { describe, expect, it } from 'vitest';
import { identityFromQr, identityFromTypedId } from '../../../modules/cccd/identity.ts';
import { parseCccdQr } from '../../../modules/cccd/qr.ts';
import { birthDateIsRead, IdentitySessions } from '../../../modules/kiosk/identitySessions.ts';
import { RateLimiter } from '../../../modules/kiosk/rateLimit.ts';

const QR = '079040001234|123456789|Phạm Văn Cụ|02021940|Nam|Số 9 Phố Cổ, Hà Nội|01012021';

describe('IdentitySessions', () => {
  it('an identity lives its TTL, belongs to its kiosk, and the reset wipes only that kiosk', () => {
    let now = 1_000_000;
    const s = new IdentitySessions({ ttlMs: 300_000, now: () => now });
    const a = s.put('k1', identityFromTypedId('079040001234')).entry;
    const b = s.put('k2', identityFromTypedId('079040005678')).entry;
    expect(a.ref).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(s.get('k1', a.ref)?.identity.idNumber).toBe('079040001234');
    expect(s.get('k2', a.ref)).toBeUndefined();
    expect(s.wipe('k1')).toBe(1);
    expect(s.get('k1', a.ref)).toBeUndefined();
    expect(s.get('k2', b.ref)).toBeDefined();
    now += 300_000;
    expect(s.get('k2', b.ref)).toBeUndefined();
    expect(s.size).toBe(0);
  });

  it('the same read again reuses the entry; a chip or QR replaces a typed number of the same person', () => {
    const s = new IdentitySessions({ ttlMs: 60_000, now: () => 0 });
    const typed = s.put('k1', identityFromTypedId('079040001234'));
    expect(s.put('k1', identityFromTypedId('079040001234'))).toMatchObject({ reused: true, entry: { ref: typed.entry.ref } });
    const qr = s.put('k1', identityFromQr(parseCccdQr(QR)));
    expect(qr).toMatchObject({ reused: false, replaced: typed.entry.ref });
    expect(s.get('k1', typed.entry.ref)).toBeUndefined();
    expect(s.holds('079040001234', 'qr')).toBe(true);
    // A typed number never replaces what the box read.
    expect(s.put('k1', identityFromTypedId('079040001234')).replaced).toBeUndefined();
    expect(s.get('k1', qr.entry.ref)).toBeDefined();
  });

  it('holds at most maxPerKiosk identities per kiosk (the oldest go)', () => {
    const s = new IdentitySessions({ ttlMs: 60_000, maxPerKiosk: 3, now: () => 0 });
    const refs = ['01', '02', '03', '04', '05'].map((n) => s.put('k1', identityFromTypedId(`0790400012${n}`)).entry.ref);
    expect(refs.map((r) => s.get('k1', r) !== undefined)).toEqual([false, false, true, true, true]);
  });

  it('only a birth date the box read gives an automatic priority', () => {
    expect(birthDateIsRead(identityFromQr(parseCccdQr(QR)))).toBe(true);
    expect(birthDateIsRead(identityFromTypedId('079040001234'))).toBe(false);
    expect(birthDateIsRead({ ...identityFromTypedId('079040001234'), dateOfBirth: '1940-02-02' })).toBe(false);
  });
});

describe('RateLimiter', () => {
  it('allows the burst, then one per refill period, and says how long to wait', () => {
    let now = 0;
    const r = new RateLimiter({ capacity: 3, refillMs: 200_000, now: () => now });
    expect([r.take('a'), r.take('a'), r.take('a')].every((d) => d.ok)).toBe(true);
    expect(r.take('a')).toEqual({ ok: false, retryAfterSeconds: 200 });
    expect(r.take('b').ok).toBe(true);
    now += 100_000;
    expect(r.peek('a')).toEqual({ ok: false, retryAfterSeconds: 100 });
    now += 100_000;
    expect(r.take('a').ok).toBe(true);
    expect(r.take('a').ok).toBe(false);
  });

  it('forgets full buckets first when it holds too many keys', () => {
    let now = 0;
    const r = new RateLimiter({ capacity: 1, refillMs: 1000, maxKeys: 2, now: () => now });
    r.take('old');
    now += 5000;
    r.take('x');
    r.take('y');
    expect(r.size).toBe(2);
    expect(r.take('x').ok).toBe(false);
  });
});

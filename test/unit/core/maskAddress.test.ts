// `address` is a person's home or a socket's (issue 17: a listener's EADDRINUSE was logged as
// "address":"[address]"). Homes stay masked; network addresses are kept.
import { describe, expect, it } from 'vitest';
import { createServer, type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { isNetworkAddress, redact } from '../../../core/mask.ts';
import { createLogger } from '../../../core/log.ts';

type ListenError = NodeJS.ErrnoException & { address?: string; port?: number };

async function addressInUse(): Promise<ListenError> {
  const first = createServer();
  await new Promise<void>((r) => first.listen(0, '127.0.0.1', r));
  const second = createServer();
  try {
    return await new Promise<ListenError>((resolve) => {
      second.once('error', resolve);
      second.listen((first.address() as AddressInfo).port, '127.0.0.1');
    });
  } finally {
    await new Promise((r) => first.close(r));
  }
}

describe('address: a home or a socket', () => {
  it('keeps the listen address and port of a net error (EADDRINUSE), in the log too', async () => {
    const err = await addressInUse();
    expect(err.code).toBe('EADDRINUSE');
    const out = redact({ err }) as { err: Record<string, unknown> };
    expect(out.err).toMatchObject({ code: 'EADDRINUSE', syscall: 'listen', address: '127.0.0.1', port: err.port });

    const chunks: string[] = [];
    const log = createLogger('info', new Writable({ write: (c, _e, cb) => (chunks.push(String(c)), cb()) }), null);
    log.error({ err, device: 'hl7a' }, 'listener failed');
    await new Promise((r) => setImmediate(r));
    expect(chunks.join('')).toContain('"address":"127.0.0.1"');
    expect(chunks.join('')).not.toContain('[address]');
  });

  it('keeps IPs, host:port, [v6]:port, localhost, socket paths and server.address()', () => {
    const plain = [
      { address: '0.0.0.0' },
      { address: '::' },
      { address: '::ffff:10.1.2.3' },
      { address: '10.20.5.2:2575' },
      { address: '[fe80::1]:11112' },
      { address: 'lis.bvdk.local:6661' },
      { address: 'localhost' },
      { Address: '/run/edge-agent/kiosk.sock' },
      { address: { address: '::', family: 'IPv6', port: 2575 } },
    ];
    expect(redact(plain)).toEqual(plain);
  });

  it("masks a person's address whatever it looks like, and every prefixed address key", () => {
    const homes = {
      patient: { address: 'Số 1 Tràng Tiền, Hoàn Kiếm, Hà Nội' },
      card: { address: 'Thôn 3, xã Đông Hội, huyện Đông Anh' },
      short: { address: 'Hà Nội' },
      dotted: { address: 'P5.Q3' },
      hostnameWithoutPort: { address: 'lis.bvdk.local' },
      structured: { address: { line: '12 Lê Lợi', city: 'Huế' } },
      // A prefix says whose: masked even when the value looks like an IP.
      homeAddress: '10.0.0.1',
      patientAddress: '10.0.0.1:80',
      permanentAddress: 'Số 1, Hà Nội',
      // An address object with anything besides a socket's fields is not a socket's.
      mixed: { address: { address: 'Số 1, Hà Nội', port: 1, ward: 'Tràng Tiền' } },
    };
    expect(redact(homes)).toEqual({
      patient: { address: '[address]' },
      card: { address: '[address]' },
      short: { address: '[address]' },
      dotted: { address: '[address]' },
      hostnameWithoutPort: { address: '[address]' },
      structured: { address: '[redacted]' },
      homeAddress: '[address]',
      patientAddress: '[address]',
      permanentAddress: '[address]',
      mixed: { address: '[redacted]' },
    });
  });

  it('says what a network address is', () => {
    for (const yes of ['127.0.0.1', '::1', '10.0.0.5:4010', '[::1]:80', 'his.local:443', 'LOCALHOST', '/tmp/x.sock'])
      expect(isNetworkAddress(yes), yes).toBe(true);
    for (const no of ['Hà Nội', '12 Lê Lợi', 'his.local', '[Số 1]:2', '1.2.3:4x', 'Thon3', '', '[10.0.0.1]:80']) expect(isNetworkAddress(no), no).toBe(false);
  });
});

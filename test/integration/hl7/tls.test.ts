import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { initBoxCertificates, issueClientCertificate, type BoxCertificates } from '../../../core/net/certs.ts';
import { openStore, type Store } from '../../../core/store/store.ts';
import { hl7DriverFactory, type Hl7Driver } from '../../../modules/hl7/index.ts';
import { MllpDecoder, mllpFrame } from '../../../modules/hl7/mllp.ts';
import { makeDriverContext } from '../../helpers/driverContext.ts';
import { journalKeys, oru } from '../../helpers/hl7Attack.ts';
import { msa, TestMllpClient } from '../../helpers/mllpClient.ts';
import { tempDir } from '../../helpers/tmp.ts';

const { dir, cleanup } = tempDir('edge-hl7-tls-');
let store: Store;
let certs: BoxCertificates;
let client: { cert: string; key: string };
let mutual: Hl7Driver;

beforeAll(async () => {
  certs = initBoxCertificates({ dir: join(dir, 'certs'), boxId: 'test-box', names: ['localhost', '127.0.0.1'] });
  client = issueClientCertificate(certs.dir, 'lis-1');
  store = await openStore({ dir: join(dir, 'store') });
  // IHE ATNA style: TLS, and only senders holding a certificate from the box CA.
  mutual = hl7DriverFactory.create(makeDriverContext(store, { id: 'tls-bc', routes: ['lis'] }), {
    host: '127.0.0.1',
    port: 0,
    tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert, requireClientCert: true },
  }) as Hl7Driver;
  await mutual.start();
});
afterAll(async () => {
  await mutual?.stop();
  store?.close();
  cleanup();
});

/** Runs `openssl s_client`, writes `input`, and returns its output once `done(output)` holds or it exits. */
function sClient(args: string[], input: Buffer, done: (out: string) => boolean): Promise<{ out: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const p = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${mutual.port}`, '-servername', 'localhost', ...args]);
    let out = '';
    const timer = setTimeout(() => {
      p.kill();
      reject(new Error(`openssl s_client gave no answer:\n${out}`));
    }, 15_000);
    const onData = (d: Buffer) => {
      out += d.toString('latin1');
      if (done(out)) p.kill();
    };
    p.stdout.on('data', onData);
    p.stderr.on('data', onData);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ out, code });
    });
    p.stdin.on('error', () => undefined);
    p.stdin.write(input);
  });
}

/** A Node TLS client (with or without a client certificate) sending one MLLP message; the ACK text or why none came. */
function nodeTlsSend(message: string, withCert: boolean): Promise<{ ack?: string; error?: string }> {
  return new Promise((resolve) => {
    const socket: TLSSocket = tlsConnect({
      host: '127.0.0.1',
      port: mutual.port,
      servername: 'localhost',
      ca: readFileSync(certs.caCert),
      ...(withCert ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
    });
    const decoder = new MllpDecoder();
    socket.once('secureConnect', () => socket.write(mllpFrame(message)));
    socket.on('data', (d: Buffer) => {
      const [m] = decoder.push(d).messages;
      if (m) {
        socket.destroy();
        resolve({ ack: m.toString('utf8') });
      }
    });
    socket.once('error', (err) => resolve({ error: err.message }));
    socket.once('close', () => resolve({ error: 'closed without an ACK' }));
  });
}

describe('MLLP over TLS (IHE ATNA style)', () => {
  it('openssl s_client: handshake with the box CA chain, and a real ORU through it gets AA', async () => {
    const { out } = await sClient(
      ['-CAfile', certs.caCert, '-cert', client.cert, '-key', client.key, '-verify_return_error', '-showcerts'],
      mllpFrame(oru('TLS-SC-1', 'SID-TLS-1', '5.5')),
      (o) => o.includes('MSA|AA|TLS-SC-1'),
    );
    expect(out).toContain('Verify return code: 0 (ok)');
    expect(out).toMatch(/s:\s*O\s*=\s*edge-agent, CN\s*=\s*test-box\b/);
    expect(out).toMatch(/i:\s*O\s*=\s*edge-agent, CN\s*=\s*test-box box CA/);
    expect(out).toContain('MSA|AA|TLS-SC-1');
    expect(store.journalStore.list({ source: 'tls-bc', stream: 'lab.message', limit: 10 }).map((e) => e.meta.controlId)).toContain('TLS-SC-1');
  });

  it('a Node TLS client with a box-CA client certificate sends an ORU and gets AA after it is stored', async () => {
    const r = await nodeTlsSend(oru('TLS-NODE-1', 'SID-TLS-2', '6.6'), true);
    expect(r.ack && msa(r.ack)).toMatchObject({ code: 'AA', controlId: 'TLS-NODE-1' });
    const stored = store.journalStore.list({ source: 'tls-bc', stream: 'lab.result', limit: 10 }).map((e) => (e.parsed as { specimenId: string }).specimenId);
    expect(stored).toContain('SID-TLS-2');
  });

  it('refuses clients without a certificate (Node and openssl), and plain MLLP on the TLS port; nothing is stored', async () => {
    const before = journalKeys(store);
    const refusedTls = () => mutual.status().counters?.refusedTls ?? 0;
    const refusedBefore = refusedTls();
    const node = await nodeTlsSend(oru('TLS-NOCERT', 'SID-NOCERT', '9.9'), false);
    expect(node.ack).toBeUndefined();
    const { out } = await sClient(['-CAfile', certs.caCert], mllpFrame(oru('TLS-SC-NOCERT', 'SID-NOCERT-2', '9.9')), (o) => /alert|error/i.test(o));
    expect(out).toMatch(/alert (certificate required|handshake failure)/i);
    expect(out).not.toContain('MSA|');
    const plain = await TestMllpClient.open(mutual.port);
    await expect(plain.send(oru('PLAIN-1', 'SID-PLAIN', '9.9'))).rejects.toThrow();
    expect(journalKeys(store)).toEqual(before);
    expect(refusedTls() - refusedBefore).toBeGreaterThanOrEqual(3);
  });
});

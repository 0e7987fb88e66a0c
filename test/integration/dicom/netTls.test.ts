import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { initBoxCertificates, issueClientCertificate, type BoxCertificates } from '../../../core/net/certs.ts';
import { dicomScpDriverFactory, type DicomScpDriver } from '../../../modules/dicom/index.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { requireTool, runTool } from './dcmtkPeers.ts';
import { guardedBox, type GuardedBox } from './scpGuard.ts';

/**
 * DICOM over TLS on a second port (PS3.15 B.1) with DCMTK's own TLS options (Debian's DCMTK is
 * built with OpenSSL): storescu/echoscu +tls with a client certificate from the box CA, a
 * client without one refused when requireClientCert, plain DICOM on the TLS port and TLS on
 * the plain port failing, openssl s_client showing the chain. The plain port serves meanwhile.
 */

const FIXTURES = join(import.meta.dirname, '../../../fixtures/dicom/pydicom');
const { dir, cleanup } = tempDir('edge-dicom-tls-');
let box: GuardedBox;
let driver: DicomScpDriver;
let certs: BoxCertificates;
let client: { cert: string; key: string };

beforeAll(async () => {
  requireTool('storescu', 'dcmtk');
  requireTool('openssl', 'openssl');
  certs = initBoxCertificates({ dir: join(dir, 'tls'), boxId: 'rad-box', names: ['localhost', '127.0.0.1'] });
  client = issueClientCertificate(certs.dir, 'ct01');
  box = await guardedBox(dir);
  driver = dicomScpDriverFactory.create(box.ctx, {
    host: '127.0.0.1',
    port: 0,
    aeTitle: 'EDGE',
    allowedCallers: [{ aeTitle: 'CT01', addresses: ['127.0.0.1'] }],
    tls: { port: 0, cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert, requireClientCert: true },
  }) as DicomScpDriver;
  await driver.start();
}, 60_000);
afterAll(async () => {
  await driver?.stop();
  box?.store.close();
  cleanup();
});

const tlsPort = () => String(driver.tlsPort);
const withCert = () => ['+tls', client.key, client.cert, '+cf', certs.caCert];

function sClient(args: string[]): Promise<string> {
  return new Promise((resolve) => {
    const child = execFile(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${tlsPort()}`, '-servername', 'localhost', '-CAfile', certs.caCert, '-showcerts', ...args],
      { timeout: 20_000 },
      (_err, stdout, stderr) => resolve(stdout + stderr),
    );
    child.stdin?.end();
  });
}

describe('dicom-scp over TLS (second port)', () => {
  it('listens on both ports at once, and says so in its status', () => {
    expect(Number(tlsPort())).toBeGreaterThan(0);
    expect(Number(tlsPort())).not.toBe(driver.port);
    expect(driver.status().detail).toMatch(new RegExp(`TLS on port ${tlsPort()}`));
  });

  it('stores a file from storescu +tls with a client certificate of the box CA, journaled with the certificate name', async () => {
    const before = box.stored();
    const r = await runTool('storescu', [...withCert(), '-aet', 'CT01', '-aec', 'EDGE', '127.0.0.1', tlsPort(), join(FIXTURES, 'CT_small.dcm')]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const after = box.stored();
    expect(after.journal).toBe(before.journal + 1);
    expect(after.studyIndex).toBe(before.studyIndex + 1);
    const entry = box.store.journalStore.list({ source: 'ct1', stream: 'dicom.instance', limit: 10 }).at(-1)!;
    expect(entry.meta).toMatchObject({ callingAe: 'CT01', remoteAddress: '127.0.0.1', tls: { clientCertificate: 'ct01' } });
    // The plain port serves at the same time.
    const plain = await runTool('storescu', ['-aet', 'CT01', '-aec', 'EDGE', '127.0.0.1', String(driver.port), join(FIXTURES, 'MR_small.dcm')]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(box.stored().journal).toBe(after.journal + 1);
  });

  it('answers echoscu +tls, and applies the same caller policy on the TLS port', async () => {
    const ok = await runTool('echoscu', [...withCert(), '-aet', 'CT01', '-aec', 'EDGE', '127.0.0.1', tlsPort()]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const before = box.stored();
    const stranger = await runTool('storescu', [...withCert(), '-aet', 'ANYBODY', '-aec', 'EDGE', '127.0.0.1', tlsPort(), join(FIXTURES, 'rtplan.dcm')]);
    expect(stranger.code).not.toBe(0);
    expect(stranger.stdout + stranger.stderr).toMatch(/Calling AE Title Not Recognized/i);
    expect(box.stored()).toEqual(before);
  });

  it('refuses a client without a certificate (requireClientCert), storing nothing', async () => {
    const before = box.stored();
    const refused = driver.status().counters!.refusedConnections!;
    // +tla: TLS without a certificate of its own (the server's is still verified against the CA).
    const r = await runTool('storescu', ['+tla', '+cf', certs.caCert, '-aet', 'CT01', '-aec', 'EDGE', '127.0.0.1', tlsPort(), join(FIXTURES, 'rtplan.dcm')]);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/Association Request Failed: .*Peer aborted Association/);
    expect(box.stored()).toEqual(before);
    expect(driver.status().counters!.refusedConnections).toBeGreaterThan(refused);
    expect(box.logs.find((l) => l.reason === 'tls-handshake')).toMatchObject({
      peer: '127.0.0.1',
      msg: expect.stringMatching(/^connection refused: .*peer did not return a certificate/),
    });
  });

  it('fails plain DICOM on the TLS port and TLS on the plain port', async () => {
    const before = box.stored();
    const plainOnTls = await runTool('storescu', ['-aet', 'CT01', '-aec', 'EDGE', '127.0.0.1', tlsPort(), join(FIXTURES, 'rtplan.dcm')]);
    expect(plainOnTls.code).not.toBe(0);
    expect(plainOnTls.stdout + plainOnTls.stderr).toMatch(/Association Request Failed: .*Peer aborted Association/);
    const tlsOnPlain = await runTool('echoscu', [...withCert(), '-aet', 'CT01', '-aec', 'EDGE', '127.0.0.1', String(driver.port)]);
    expect(tlsOnPlain.code).not.toBe(0);
    expect(tlsOnPlain.stdout + tlsOnPlain.stderr).toMatch(/TLS error/);
    // The plain port read a TLS ClientHello as a PDU of unknown type: A-ABORT, logged.
    expect(box.logs.find((l) => l.msg === 'DICOM association aborted' && l.why === 'bad PDU: unknown PDU type 0x16')).toBeDefined();
    expect(box.stored()).toEqual(before);
  });

  it('shows openssl s_client the box certificate signed by the box CA, verified, TLS 1.2 or later; without a client certificate the server ends the session', async () => {
    const out = await sClient(['-cert', client.cert, '-key', client.key]);
    expect(out).toMatch(/Verify return code: 0 \(ok\)/);
    expect(out).toMatch(/s:O ?= ?edge-agent, CN ?= ?rad-box\b/);
    expect(out).toMatch(/i:O ?= ?edge-agent, CN ?= ?rad-box box CA/);
    expect(out).toMatch(/New, TLSv1\.[23], Cipher is /);
    // TLS 1.2, where the refusal is part of the handshake (in 1.3 it comes after, on the first read).
    const anonymous = await sClient(['-tls1_2']);
    expect(anonymous).toMatch(/alert handshake failure|alert certificate required/i);
    expect(anonymous).not.toMatch(/Verify return code: 0 \(ok\)[\s\S]*New, TLSv1\.2/);
  });
});

describe('dicom-scp over TLS without client certificates', () => {
  it('lets a client without a certificate in when requireClientCert is off (the caller policy still applies)', async () => {
    const { dir: d2, cleanup: c2 } = tempDir('edge-dicom-tls-anon-');
    const anon = await guardedBox(d2, 'ct-anon');
    const d = dicomScpDriverFactory.create(anon.ctx, {
      host: '127.0.0.1',
      port: 0,
      aeTitle: 'EDGE',
      allowedCallers: [{ aeTitle: 'CT01' }],
      tls: { port: 0, cert: certs.serverCert, key: certs.serverKey },
    }) as DicomScpDriver;
    await d.start();
    try {
      const port = String(d.tlsPort);
      const ok = await runTool('echoscu', ['+tla', '+cf', certs.caCert, '-aet', 'CT01', '-aec', 'EDGE', '127.0.0.1', port]);
      expect(ok.code, ok.stdout + ok.stderr).toBe(0);
      const stranger = await runTool('echoscu', ['+tla', '+cf', certs.caCert, '-aet', 'ANYBODY', '-aec', 'EDGE', '127.0.0.1', port]);
      expect(stranger.stdout + stranger.stderr).toMatch(/Calling AE Title Not Recognized/i);
    } finally {
      await d.stop();
      anon.store.close();
      c2();
    }
  });
});

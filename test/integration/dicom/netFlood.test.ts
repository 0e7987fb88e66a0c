import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { dicomScpDriverFactory, type DicomScpDriver } from '../../../modules/dicom/index.ts';
import { ScuAssociation } from '../../../modules/dicom/net/scu.ts';
import { PDU_ABORT } from '../../../modules/dicom/net/pdu.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { requireTool, runTool } from './dcmtkPeers.ts';
import { guardedBox, type GuardedBox } from './scpGuard.ts';

/**
 * Issue #15: "8 idle associations refuse the modality for 300 s". Sockets that never associate
 * and associations that stay idle, more than maxAssociations, from another PC (127.0.0.2) and
 * from the modality's own address (127.0.0.1), while the real storescu stores. Timers are long
 * here (ARTIM and idle timeout 60 s and more): the modality gets in because idle holders make
 * room, not because they timed out.
 */

const FIXTURES = join(import.meta.dirname, '../../../fixtures/dicom/pydicom');
const { dir, cleanup } = tempDir('edge-dicom-flood-');
let box: GuardedBox;
let driver: DicomScpDriver;
const held: Array<{ close(): void }> = [];

beforeAll(async () => {
  requireTool('storescu', 'dcmtk');
  box = await guardedBox(dir);
  driver = dicomScpDriverFactory.create(box.ctx, {
    host: '127.0.0.1',
    port: 0,
    aeTitle: 'EDGE',
    allowedPeers: ['127.0.0.1', '127.0.0.2'],
    // The flooding PC knows a listed AE (US01, allowed from any allowedPeers address); on the modality's own address it claims CT01.
    allowedCallers: [{ aeTitle: 'CT01', addresses: ['127.0.0.1'] }, { aeTitle: 'US01' }],
    // At most 3 associations per address (its connection cap): one PC never holds all five.
    maxAssociations: 5,
    limits: { maxConnections: 8, maxConnectionsPerPeer: 3 },
    artimMs: 60_000,
    idleTimeoutMs: 120_000,
  }) as DicomScpDriver;
  await driver.start();
});
afterEach(() => {
  for (const h of held.splice(0)) h.close();
});
afterAll(async () => {
  await driver?.stop();
  box?.store.close();
  cleanup();
});

interface RawSocket {
  socket: Socket;
  closed: boolean;
  received: Buffer[];
  close(): void;
}

/** A TCP connection that never sends an A-ASSOCIATE-RQ. */
function rawSocket(from: string, port = driver.port): Promise<RawSocket> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: from });
    const raw: RawSocket = { socket, closed: false, received: [], close: () => socket.destroy() };
    socket.on('data', (d) => raw.received.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => (raw.closed = true));
    socket.once('connect', () => resolve(raw));
    socket.once('close', () => resolve(raw));
  });
}

/** An association opened and then left idle (or refused: null). */
async function idleAssociation(from: string, callingAe: string, port = driver.port): Promise<ScuAssociation | null> {
  try {
    return await ScuAssociation.open({ host: '127.0.0.1', port, localAddress: from, callingAe, calledAe: 'EDGE', connectTimeoutMs: 5000 });
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('dicom-scp under an idle-connection flood', () => {
  it('storescu stores while idle associations fill maxAssociations and idle sockets fill the per-peer caps, from another PC and from its own address', async () => {
    const other: Array<ScuAssociation | null> = [];
    for (let i = 0; i < 3; i++) other.push(await idleAssociation('127.0.0.2', 'US01'));
    const otherRaw = await Promise.all([1, 2, 3].map(() => rawSocket('127.0.0.2')));
    const ownRaw = [await rawSocket('127.0.0.1')];
    const own = [await idleAssociation('127.0.0.1', 'CT01'), await idleAssociation('127.0.0.1', 'CT01')];
    ownRaw.push(...(await Promise.all([1, 2].map(() => rawSocket('127.0.0.1')))));
    for (const a of [...other, ...own]) if (a) held.push({ close: () => a.abort('test over') });
    held.push(...otherRaw, ...ownRaw);
    // The flood holds every association slot (5) and both addresses' connection caps (3 each):
    // the sockets beyond the caps were closed at once.
    expect(other.every((a) => a?.isOpen)).toBe(true);
    expect(own.every((a) => a?.isOpen)).toBe(true);
    await waitFor(() => driver.status().counters!.refusedConnections === 5, 'five connections over the caps refused');
    await waitFor(() => otherRaw.filter((s) => s.closed).length + ownRaw.filter((s) => s.closed).length === 5, 'and closed');
    // Holders become evictable once idle for 2 s.
    await sleep(2200);

    const before = box.stored();
    const evicted = driver.status().counters!.evicted!;
    const r = await runTool('storescu', ['-aet', 'CT01', '-aec', 'EDGE', '127.0.0.1', String(driver.port), join(FIXTURES, 'CT_small.dcm')], 20_000);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const after = box.stored();
    expect(after.journal).toBe(before.journal + 1);
    expect(after.studyIndex).toBe(before.studyIndex + 1);
    // At the connection level the modality's address gave up its longest-idle socket (the one
    // that never associated); at the association level the PC holding most (127.0.0.2, three)
    // gave one up, not the modality's address (two).
    expect(ownRaw[0]!.closed).toBe(true);
    expect(driver.status().counters!.evicted).toBe(evicted + 1);
    await waitFor(() => other.filter((a) => !a?.isOpen).length === 1, "one of the flooding PC's associations aborted");
    expect(own.every((a) => a?.isOpen)).toBe(true);
    expect(box.logs.find((l) => /aborted to admit another/.test(l.msg))).toMatchObject({
      remote: '127.0.0.2',
      for: { callingAe: 'CT01', remote: '127.0.0.1' },
    });
  }, 60_000);

  it("storescu stores while another PC keeps opening sockets and associations, and idle ones are held on the modality's address", async () => {
    const own = await Promise.all([1, 2].map(() => rawSocket('127.0.0.1')));
    const ownAssoc = await idleAssociation('127.0.0.1', 'CT01');
    held.push(...own);
    if (ownAssoc) held.push({ close: () => ownAssoc.abort('test over') });
    const refusedBefore = driver.status().counters!.refusedConnections!;
    let flooding = true;
    let attempts = 0;
    const flood = (async () => {
      while (flooding) {
        attempts++;
        const s = await rawSocket('127.0.0.2');
        held.push(s);
        const a = await idleAssociation('127.0.0.2', 'US01');
        if (a) held.push({ close: () => a.abort('test over') });
        await sleep(50);
      }
    })();
    await sleep(2200);
    const before = box.stored();
    try {
      for (const file of ['MR_small.dcm', 'rtplan.dcm', 'rtstruct.dcm']) {
        const r = await runTool('storescu', ['-aet', 'CT01', '-aec', 'EDGE', '127.0.0.1', String(driver.port), join(FIXTURES, file)], 20_000);
        expect(r.code, `${file}: ${r.stdout}${r.stderr}`).toBe(0);
      }
      const echo = await runTool('echoscu', ['-aet', 'CT01', '-aec', 'EDGE', '127.0.0.1', String(driver.port)]);
      expect(echo.code, echo.stderr).toBe(0);
    } finally {
      flooding = false;
      await flood;
    }
    expect(attempts).toBeGreaterThan(10);
    expect(box.stored().journal).toBe(before.journal + 3);
    // The other PC got no more than its cap: the rest of its connections were refused.
    expect(driver.status().counters!.refusedConnections).toBeGreaterThan(refusedBefore);
  }, 60_000);
});

describe('dicom-scp timers: ARTIM and the idle association timeout', () => {
  it('aborts a connection that never sends an A-ASSOCIATE-RQ at ARTIM, and an association idle for idleTimeoutMs, each with an A-ABORT', async () => {
    const { dir: d2, cleanup: c2 } = tempDir('edge-dicom-timers-');
    const quick = await guardedBox(d2, 'ct-quick');
    const d = dicomScpDriverFactory.create(quick.ctx, {
      host: '127.0.0.1',
      port: 0,
      aeTitle: 'EDGE',
      allowedCallers: [{ aeTitle: 'CT01' }],
      artimMs: 800,
      idleTimeoutMs: 1500,
    }) as DicomScpDriver;
    await d.start();
    try {
      const raw = await rawSocket('127.0.0.1', d.port);
      const assoc = await idleAssociation('127.0.0.1', 'CT01', d.port);
      expect(assoc?.isOpen).toBe(true);
      await waitFor(() => raw.closed, 'the silent socket closed at ARTIM', 10_000);
      expect(Buffer.concat(raw.received)[0]).toBe(PDU_ABORT);
      await waitFor(() => !assoc!.isOpen, 'the idle association aborted', 10_000);
      const lines = quick.logs.filter((l) => l.msg === 'DICOM association aborted').map((l) => l.why);
      expect(lines).toContain('ARTIM expired waiting for A-ASSOCIATE-RQ');
      expect(lines).toContain('idle for 1500 ms (idleTimeoutMs)');
      expect(d.status().counters!.open).toBe(0);
    } finally {
      await d.stop();
      quick.store.close();
      c2();
    }
  }, 30_000);
});

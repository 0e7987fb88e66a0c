import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { dicomScpDriverFactory, type DicomScpDriver } from '../../../modules/dicom/index.ts';
import { stringElement, writeDataset } from '../../../modules/dicom/data/codec.ts';
import { MODALITY_WORKLIST_FIND } from '../../../modules/dicom/data/sopClasses.ts';
import { EXPLICIT_LE, EXPLICIT_VR_LITTLE_ENDIAN } from '../../../modules/dicom/data/transferSyntaxes.ts';
import { DicomAssociationError, ScuAssociation } from '../../../modules/dicom/net/scu.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { requireTool, runTool } from './dcmtkPeers.ts';
import { PATIENT, guardedBox, type GuardedBox } from './scpGuard.ts';

/**
 * Issue #15: "a DICOM C-FIND from calling AE ANYBODY returned the worklist with names and CCCD
 * numbers". Each test does what a PC on the LAN would, with DCMTK's own tools where they can
 * (findscu, storescu, echoscu: they cannot choose their source address, so the project's SCU
 * dials from 127.0.0.2, another "PC" on loopback), and checks the refusal AND that nothing
 * stored changed.
 */

const FIXTURES = join(import.meta.dirname, '../../../fixtures/dicom/pydicom');
const { dir, cleanup } = tempDir('edge-dicom-callers-');
let box: GuardedBox;
let driver: DicomScpDriver;

beforeAll(async () => {
  requireTool('findscu', 'dcmtk');
  box = await guardedBox(dir);
  driver = dicomScpDriverFactory.create(box.ctx, {
    host: '127.0.0.1',
    port: 0,
    aeTitle: 'EDGE',
    // 127.0.0.2 is a PC on the LAN allowed to connect (the US room's); 127.0.0.3 is not.
    allowedPeers: ['127.0.0.1', '127.0.0.2'],
    allowedCallers: [{ aeTitle: 'CT01', addresses: ['127.0.0.1'] }, { aeTitle: 'US01' }],
  }) as DicomScpDriver;
  await driver.start();
});
afterAll(async () => {
  await driver?.stop();
  box?.store.close();
  cleanup();
});

const worklistKeys = ['-k', '0008,0005=ISO_IR 192', '-k', '0010,0010', '-k', '0010,0020', '-k', '0008,0050', '-k', '0040,0100[0].0008,0060'];

async function findscu(callingAe: string, calledAe = 'EDGE'): Promise<{ code: number; output: string; answers: string[] }> {
  const out = join(dir, `rsp-${callingAe}-${Date.now()}`);
  mkdirSync(out);
  const r = await runTool('findscu', ['-W', '-X', '-od', out, '-aet', callingAe, '-aec', calledAe, ...worklistKeys, '127.0.0.1', String(driver.port)]);
  const answers = await Promise.all(readdirSync(out).map(async (f) => (await runTool('dcmdump', ['+U8', join(out, f)])).stdout));
  return { code: r.code, output: r.stdout + r.stderr, answers };
}

const rejectLines = () => box.logs.filter((l) => l.msg.startsWith('DICOM association rejected'));

describe('dicom-scp callers: calling AE plus address, deny by default', () => {
  it('rejects findscu -aet ANYBODY with "calling AE title not recognized": no answer, nothing stored, the refusal logged without personal data', async () => {
    // The listed modality does get the patient: the refusal below is not an empty worklist.
    const ct = await findscu('CT01');
    expect(ct.code, ct.output).toBe(0);
    expect(ct.answers).toHaveLength(1);
    expect(ct.answers[0]).toContain(PATIENT.cccd);

    const before = box.stored();
    const queries = driver.status().counters!.worklistQueries!;
    const r = await findscu('ANYBODY');
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/Association Rejected/i);
    expect(r.output).toMatch(/Calling AE Title Not Recognized/i);
    expect(r.answers).toEqual([]);
    expect(r.output).not.toContain(PATIENT.cccd);
    expect(driver.status().counters!.worklistQueries).toBe(queries);
    expect(box.stored()).toEqual(before);
    const line = rejectLines().find((l) => l.callingAe === 'ANYBODY');
    expect(line).toMatchObject({
      level: 40,
      msg: 'DICOM association rejected (permanent): calling AE title not recognized',
      callingAe: 'ANYBODY',
      calledAe: 'EDGE',
      remote: '127.0.0.1',
      why: 'calling AE "ANYBODY" is not in allowedCallers',
    });
    expect(box.logText()).not.toContain(PATIENT.cccd);
    expect(box.logText()).not.toContain(PATIENT.name);
    // A peer retrying, or trying title after title, is logged once per 10 minutes (with a count), not once per try.
    await findscu('ANYBODY');
    await findscu('SCAN01');
    expect(rejectLines().filter((l) => l.remote === '127.0.0.1' && /calling AE title/.test(l.msg))).toHaveLength(1);
    expect(box.stored()).toEqual(before);
  });

  it('rejects a wrong called AE title with "called AE title not recognized"', async () => {
    const before = box.stored();
    const r = await findscu('CT01', 'PACS');
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/Called AE Title Not Recognized/i);
    expect(r.answers).toEqual([]);
    expect(box.stored()).toEqual(before);
  });

  it('rejects a listed AE calling from another address (127.0.0.2): the AE title alone is not enough', async () => {
    const before = box.stored();
    const err = await queryFrom(driver.port, '127.0.0.2', 'CT01').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DicomAssociationError);
    expect((err as Error).message).toMatch(/permanent.*calling AE title not recognized/);
    expect(rejectLines().find((l) => l.callingAe === 'CT01' && l.remote === '127.0.0.2')).toMatchObject({
      msg: 'DICOM association rejected (permanent): calling AE title not recognized',
      why: expect.stringMatching(/"CT01" may not call from 127\.0\.0\.2/),
    });
    // US01 lists no address: it may call from any allowedPeers address, 127.0.0.2 included.
    expect(await queryFrom(driver.port, '127.0.0.2', 'US01')).toBe(1);
    expect(box.stored()).toEqual(before);
  });

  it('closes a connection from an address outside allowedPeers before reading a byte (127.0.0.3), whatever AE it claims', async () => {
    const refused = driver.status().counters!.refusedConnections!;
    const err = await queryFrom(driver.port, '127.0.0.3', 'US01').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DicomAssociationError);
    expect((err as DicomAssociationError).code).toBe('closed');
    await waitFor(() => driver.status().counters!.refusedConnections! > refused, 'the refusal counted');
    expect(box.logs.find((l) => l.peer === '127.0.0.3')).toMatchObject({
      reason: 'not-allowed',
      msg: expect.stringMatching(/^connection refused: not in allowedPeers/),
    });
  });

  it('stores nothing from storescu -aet STRANGER (no journal entry, no file, no study index row), then the listed AE stores', async () => {
    const file = join(FIXTURES, 'CT_small.dcm');
    const before = box.stored();
    const r = await runTool('storescu', ['-aet', 'STRANGER', '-aec', 'EDGE', '127.0.0.1', String(driver.port), file]);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/Calling AE Title Not Recognized/i);
    expect(box.stored()).toEqual(before);
    const ok = await runTool('storescu', ['-aet', 'CT01', '-aec', 'EDGE', '127.0.0.1', String(driver.port), file]);
    expect(ok.code, ok.stderr).toBe(0);
    const after = box.stored();
    expect(after.journal).toBe(before.journal + 1);
    expect(after.studyIndex).toBe(before.studyIndex + 1);
  });

  it('self-test echoes through the policy with a calling AE only this process knows', async () => {
    const r = await driver.selfTest(AbortSignal.timeout(10_000));
    expect(r.ok, r.detail).toBe(true);
    // Its AE is random per process: guessing the pattern gets nothing.
    const guess = await runTool('echoscu', ['-aet', 'SELFTEST00000000', '-aec', 'EDGE', '127.0.0.1', String(driver.port)]);
    expect(guess.stdout + guess.stderr).toMatch(/Calling AE Title Not Recognized/i);
  });
});

describe('dicom-scp with no allowedCallers', () => {
  it('listens but refuses every association, says so in its status and at start, and its self-test fails', async () => {
    const { dir: d2, cleanup: c2 } = tempDir('edge-dicom-nocallers-');
    const open = await guardedBox(d2, 'ct-open');
    const none = dicomScpDriverFactory.create(open.ctx, { host: '127.0.0.1', port: 0, aeTitle: 'EDGE' }) as DicomScpDriver;
    await none.start();
    try {
      expect(open.ctx.statuses.at(-1)).toMatchObject({ state: 'degraded', detail: expect.stringMatching(/no allowedCallers: every association is refused/) });
      expect(none.status().state).toBe('degraded');
      expect(open.logs.find((l) => /has no allowedCallers/.test(l.msg))).toMatchObject({ level: 40 });
      const before = open.stored();
      const r = await runTool('findscu', ['-W', '-aet', 'ANYBODY', '-aec', 'EDGE', ...worklistKeys, '127.0.0.1', String(none.port)]);
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/Calling AE Title Not Recognized/i);
      const store = await runTool('storescu', ['-aet', 'CT01', '-aec', 'EDGE', '127.0.0.1', String(none.port), join(FIXTURES, 'CT_small.dcm')]);
      expect(store.stdout + store.stderr).toMatch(/Calling AE Title Not Recognized/i);
      expect(open.stored()).toEqual(before);
      const test = await none.selfTest(AbortSignal.timeout(10_000));
      expect(test).toMatchObject({ ok: false, detail: expect.stringMatching(/no allowedCallers, every modality is refused/) });
    } finally {
      await none.stop();
      open.store.close();
      c2();
    }
  });

  it('a LAN-only allowedPeers still lets the self-test in from the box, and only while it runs', async () => {
    const { dir: d3, cleanup: c3 } = tempDir('edge-dicom-lanonly-');
    const lan = await guardedBox(d3, 'ct-lan');
    const d = dicomScpDriverFactory.create(lan.ctx, {
      host: '127.0.0.1',
      port: 0,
      aeTitle: 'EDGE',
      allowedPeers: ['127.0.0.2'],
      allowedCallers: [{ aeTitle: 'US01' }],
    }) as DicomScpDriver;
    await d.start();
    try {
      const r = await d.selfTest(AbortSignal.timeout(10_000));
      expect(r.ok, r.detail).toBe(true);
      const socket = connect({ host: '127.0.0.1', port: d.port });
      socket.on('error', () => undefined);
      await new Promise((resolve) => socket.on('close', resolve));
      expect(d.status().counters!.refusedConnections).toBeGreaterThanOrEqual(1);
      expect(await queryFrom(d.port, '127.0.0.2', 'US01')).toBe(1);
    } finally {
      await d.stop();
      lan.store.close();
      c3();
    }
  });
});

/** A worklist query with the project's SCU, from a chosen source address: the answers' count. */
async function queryFrom(port: number, localAddress: string, callingAe: string): Promise<number> {
  const assoc = await ScuAssociation.open({
    host: '127.0.0.1',
    port,
    localAddress,
    callingAe,
    calledAe: 'EDGE',
    contexts: [{ abstractSyntax: MODALITY_WORKLIST_FIND, transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN] }],
  });
  try {
    let answers = 0;
    await assoc.find(MODALITY_WORKLIST_FIND, writeDataset([stringElement(0x00100010, 'PN', '')], EXPLICIT_LE), () => answers++);
    return answers;
  } finally {
    await assoc.release();
  }
}

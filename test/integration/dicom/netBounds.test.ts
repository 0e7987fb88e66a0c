import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { dicomScpDriverFactory, type DicomScpDriver } from '../../../modules/dicom/index.ts';
import { stringElement, writeDataset } from '../../../modules/dicom/data/codec.ts';
import { MODALITY_WORKLIST_FIND, VERIFICATION_SOP_CLASS } from '../../../modules/dicom/data/sopClasses.ts';
import { EXPLICIT_LE, EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN } from '../../../modules/dicom/data/transferSyntaxes.ts';
import { encodeAssociateRq } from '../../../modules/dicom/net/associate.ts';
import { C_ECHO_RQ, encodeCommand } from '../../../modules/dicom/net/dimse.ts';
import { PDU_ABORT, PDU_ASSOCIATE_AC, PduReader, encodeDataPdu, type Pdu } from '../../../modules/dicom/net/pdu.ts';
import { MAX_ASSOCIATE_RQ, MAX_COMMAND_SET, MAX_FIND_IDENTIFIER } from '../../../modules/dicom/net/scpAssociation.ts';
import { ScuAssociation } from '../../../modules/dicom/net/scu.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { guardedBox, type GuardedBox } from './scpGuard.ts';

/**
 * Size bounds of the SCP, tried with raw bytes as a hostile listed peer would send them: a PDU
 * declaring more than the bound is refused at its 6-byte header with an A-ABORT (nothing of its
 * body is buffered), a command set growing without end is aborted, a C-FIND query over its
 * bound is answered A700 and the association stays usable. Nothing stored changes.
 */

const MAX_PDU = 65536;
const { dir, cleanup } = tempDir('edge-dicom-bounds-');
let box: GuardedBox;
let driver: DicomScpDriver;

beforeAll(async () => {
  box = await guardedBox(dir);
  driver = dicomScpDriverFactory.create(box.ctx, {
    host: '127.0.0.1',
    port: 0,
    aeTitle: 'EDGE',
    allowedCallers: [{ aeTitle: 'CT01' }],
    maxPduLength: MAX_PDU,
  }) as DicomScpDriver;
  await driver.start();
});
afterAll(async () => {
  await driver?.stop();
  box?.store.close();
  cleanup();
});

interface Peer {
  socket: Socket;
  pdus: Pdu[];
  closed: boolean;
  /** Bytes this peer has written. */
  sent: number;
  write(b: Buffer): void;
}

async function peer(): Promise<Peer> {
  const socket = connect({ host: '127.0.0.1', port: driver.port });
  const reader = new PduReader({ maxDataLength: 1 << 20 });
  const p: Peer = { socket, pdus: [], closed: false, sent: 0, write: (b) => void ((p.sent += b.length), socket.write(b)) };
  socket.on('data', (c) => p.pdus.push(...reader.feed(c)));
  socket.on('error', () => undefined);
  socket.on('close', () => (p.closed = true));
  await new Promise((r) => socket.once('connect', r));
  return p;
}

/** A peer with an accepted association (context 1: Verification, 3: worklist FIND). */
async function associated(): Promise<Peer> {
  const p = await peer();
  p.write(
    encodeAssociateRq({
      calledAe: 'EDGE',
      callingAe: 'CT01',
      contexts: [
        { id: 1, abstractSyntax: VERIFICATION_SOP_CLASS, transferSyntaxes: [IMPLICIT_VR_LITTLE_ENDIAN] },
        { id: 3, abstractSyntax: MODALITY_WORKLIST_FIND, transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN] },
      ],
      user: { maxPduLength: 1 << 20 },
    }),
  );
  await waitFor(() => p.pdus.length > 0, 'A-ASSOCIATE-AC');
  expect(p.pdus.shift()!.type).toBe(PDU_ASSOCIATE_AC);
  return p;
}

function pduHeader(type: number, length: number): Buffer {
  const h = Buffer.alloc(6);
  h[0] = type;
  h.writeUInt32BE(length, 2);
  return h;
}

const abortsLogged = () => box.logs.filter((l) => l.msg === 'DICOM association aborted').map((l) => String(l.why));

async function expectAbort(p: Peer, reason: number): Promise<void> {
  await waitFor(() => p.closed, 'the box closed the connection');
  expect(p.pdus.find((x) => x.type === PDU_ABORT)).toEqual({ type: PDU_ABORT, source: 2, reason });
}

describe('dicom-scp PDU and dataset bounds', () => {
  it('aborts an A-ASSOCIATE-RQ declaring 100 MB at its header, before its body (invalid PDU parameter value), and logs it', async () => {
    const before = box.stored();
    const p = await peer();
    p.write(pduHeader(0x01, 100_000_000));
    p.write(Buffer.alloc(1000, 0x41));
    await expectAbort(p, 6);
    expect(abortsLogged()).toContain(`bad PDU: PDU type 1 of 100000000 bytes exceeds ${MAX_ASSOCIATE_RQ}`);
    expect(box.stored()).toEqual(before);
  });

  it('aborts a P-DATA-TF sent before any association, whatever length it declares', async () => {
    const p = await peer();
    p.write(pduHeader(0x04, 10));
    await expectAbort(p, 2);
    expect(abortsLogged()).toContain('bad PDU: P-DATA-TF before the association was accepted');
  });

  it('aborts a P-DATA-TF over the negotiated maximum at its header, on an accepted association', async () => {
    const before = box.stored();
    const p = await associated();
    p.write(pduHeader(0x04, MAX_PDU * 16));
    await expectAbort(p, 6);
    expect(abortsLogged().some((w) => /^bad PDU: PDU type 4 of 1048576 bytes exceeds \d+$/.test(w))).toBe(true);
    expect(box.stored()).toEqual(before);
  });

  it('aborts a command set that grows past its bound in never-last fragments (nothing collected without end)', async () => {
    const p = await associated();
    const fragment = Buffer.alloc(16 * 1024, 0);
    for (let sent = 0; sent <= MAX_COMMAND_SET + fragment.length && !p.closed; sent += fragment.length)
      for (const b of encodeDataPdu(1, true, false, fragment)) p.write(b);
    await expectAbort(p, 0);
    expect(abortsLogged()).toContain(`protocol error: command set larger than ${MAX_COMMAND_SET} bytes`);
  });

  it('refuses a C-FIND query over its bound with A700, sends no answer, keeps the association for the next request', async () => {
    const before = box.stored();
    const queries = driver.status().counters!.worklistQueries!;
    const assoc = await ScuAssociation.open({
      host: '127.0.0.1',
      port: driver.port,
      callingAe: 'CT01',
      calledAe: 'EDGE',
      contexts: [
        { abstractSyntax: MODALITY_WORKLIST_FIND, transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN] },
        { abstractSyntax: VERIFICATION_SOP_CLASS, transferSyntaxes: [IMPLICIT_VR_LITTLE_ENDIAN] },
      ],
    });
    try {
      const huge = writeDataset(
        [stringElement(0x00100010, 'PN', ''), { tag: 0x0040a160, vr: 'UT', value: Buffer.alloc(MAX_FIND_IDENTIFIER + 2, 0x41) }],
        EXPLICIT_LE,
      );
      let answers = 0;
      expect(await assoc.find(MODALITY_WORKLIST_FIND, huge, () => answers++)).toBe(0xa700);
      expect(answers).toBe(0);
      expect(driver.status().counters!.worklistQueries).toBe(queries);
      expect(box.logs.find((l) => l.msg === 'DICOM request dataset over its size bound refused')).toMatchObject({
        callingAe: 'CT01',
        max: MAX_FIND_IDENTIFIER,
      });
      // The same query of ordinary size is answered on the same association.
      expect(await assoc.find(MODALITY_WORKLIST_FIND, writeDataset([stringElement(0x00100010, 'PN', '')], EXPLICIT_LE), () => answers++)).toBe(0);
      expect(answers).toBe(1);
      expect(await assoc.echo()).toBe(0);
    } finally {
      await assoc.release();
    }
    expect(box.stored()).toEqual(before);
  });

  it('answers a C-ECHO sent by raw PDUs (the helpers above speak correct DICOM)', async () => {
    const p = await associated();
    for (const b of encodeDataPdu(
      1,
      true,
      true,
      encodeCommand({ commandField: C_ECHO_RQ, messageId: 7, affectedSopClassUid: VERIFICATION_SOP_CLASS, hasDataset: false }),
    ))
      p.write(b);
    await waitFor(() => p.pdus.length > 0, 'C-ECHO-RSP');
    expect(p.pdus[0]!.type).toBe(0x04);
    p.socket.destroy();
  });
});

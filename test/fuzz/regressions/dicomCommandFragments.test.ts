// Found by the listener campaign's "endless-command" DICOM attack (docs/FUZZING.md): on an
// accepted association, ScpAssociation.onPdv (modules/dicom/net/scpAssociation.ts) appends
// every command PDV to `commandParts` until one carries the last bit, with no limit ("command
// fragments are collected: they are small"). The dataset side is bounded (MAX_IDENTIFIER for
// C-FIND, backpressure for C-STORE), the command side is not: a caller sending command fragments
// without the last bit makes the box hold everything it sends, for as long as it keeps sending
// (each PDU resets the idle timer). A command set is a few hundred bytes; the fix is a cap (say
// 64 KB) answered with A-ABORT. Fixed: scpAssociation caps a command set at 64 KB.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { openStore, type Store } from '../../../core/store/store.ts';
import { dicomScpDriverFactory, type DicomScpDriver } from '../../../modules/dicom/index.ts';
import { encodeAssociateRq } from '../../../modules/dicom/net/associate.ts';
import { encodeDataPdu } from '../../../modules/dicom/net/pdu.ts';
import { makeDriverContext } from '../../helpers/driverContext.ts';
import { tempDir } from '../../helpers/tmp.ts';

const { dir, cleanup } = tempDir('fuzz-regression-');
let store: Store;
let driver: DicomScpDriver;

beforeAll(async () => {
  store = await openStore({ dir: join(dir, 'store') });
  driver = dicomScpDriverFactory.create(makeDriverContext(store, { id: 'ct1' }), {
    host: '127.0.0.1',
    port: 0,
    aeTitle: 'EDGE',
    allowedCallers: [{ aeTitle: 'MODALITY' }],
    maxPduLength: 65536,
  }) as DicomScpDriver;
  await driver.start();
});
afterAll(async () => {
  await driver?.stop();
  store?.close();
  cleanup();
});

describe('fuzz regression: DICOM command fragments without the last bit', () => {
  it('aborts the association long before 64 MB of command fragments are held', async () => {
    const socket: Socket = connect(driver.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    let closed = false;
    let aborted = false;
    socket.on('data', (d: Buffer) => {
      if (d.includes(0x07) && d[0] === 0x07) aborted = true;
    });
    socket.on('close', () => (closed = true));
    socket.on('error', () => undefined);
    socket.write(
      encodeAssociateRq({
        calledAe: 'EDGE',
        callingAe: 'MODALITY',
        contexts: [{ id: 1, abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2'] }],
        user: { maxPduLength: 16384 },
      }),
    );
    await new Promise((r) => setTimeout(r, 200));
    const fragment = Buffer.concat(encodeDataPdu(1, true, false, Buffer.alloc(60_000, 0x20)));
    let sent = 0;
    while (sent < 64 * 1024 * 1024 && !closed) {
      if (!socket.write(fragment)) await new Promise((r) => (socket.once('drain', r), socket.once('close', r)));
      sent += fragment.length;
    }
    socket.destroy();
    expect(aborted || closed, `the box took ${(sent / 1048576).toFixed(0)} MB of command fragments without aborting`).toBe(true);
    expect(sent).toBeLessThan(8 * 1024 * 1024);
  });
});

// Found by the listener campaign (docs/FUZZING.md; a damaged P-DATA followed by the stream's
// A-RELEASE-RQ): a caller that sends A-RELEASE-RQ while a C-STORE dataset is still incomplete,
// then hangs up, makes the dicom-scp log "DICOM instance could not be written" at error level
// with EDGE_STORE_FAILED and count a storage failure, as if the disk had failed. The
// association was releasing, so ScpAssociation.closed() (modules/dicom/net/scpAssociation.ts)
// does not abort the request's signal (`if (!wasReleasing) this.abort.abort(err)`), and
// DicomScp.store (modules/dicom/net/dicomScp.ts) then takes the dropped transfer for a write
// failure. Nothing is lost (the half instance is discarded and was never acknowledged), but an
// error line and a failure counter that any caller can raise at will hide real storage
// trouble. Fixed: a release that cuts a transfer aborts it, counted as dropped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { join } from 'node:path';
import { openStore, type Store } from '../../../core/store/store.ts';
import { dicomScpDriverFactory, type DicomScpDriver } from '../../../modules/dicom/index.ts';
import { encodeAssociateRq } from '../../../modules/dicom/net/associate.ts';
import { C_STORE_RQ, encodeCommand } from '../../../modules/dicom/net/dimse.ts';
import { encodeDataPdu, encodeReleaseRq } from '../../../modules/dicom/net/pdu.ts';
import { makeDriverContext } from '../../helpers/driverContext.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';

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
  }) as DicomScpDriver;
  await driver.start();
});
afterAll(async () => {
  await driver?.stop();
  store?.close();
  cleanup();
});

const counters = () => driver.status().counters as { failed: number; dropped: number; associations: number };

describe('fuzz regression: A-RELEASE-RQ in the middle of a C-STORE dataset', () => {
  it('counts the half instance as dropped, not as a storage failure', async () => {
    const socket = connect(driver.port, '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise((r) => socket.once('connect', r));
    const ct = '1.2.840.10008.5.1.4.1.1.2';
    socket.write(
      encodeAssociateRq({
        calledAe: 'EDGE',
        callingAe: 'MODALITY',
        contexts: [{ id: 1, abstractSyntax: ct, transferSyntaxes: ['1.2.840.10008.1.2.1'] }],
        user: { maxPduLength: 16384 },
      }),
    );
    await waitFor(() => counters().associations === 1, 'the association');
    for (const b of encodeDataPdu(
      1,
      true,
      true,
      encodeCommand({ commandField: C_STORE_RQ, messageId: 1, affectedSopClassUid: ct, affectedSopInstanceUid: '2.25.77', priority: 0, hasDataset: true }),
    ))
      socket.write(b);
    for (const b of encodeDataPdu(1, false, false, Buffer.from([0x08, 0x00, 0x60, 0x00, 0x43, 0x53, 0x02, 0x00, 0x43, 0x54]))) socket.write(b); // (0008,0060) CS "CT", not the last fragment
    socket.write(encodeReleaseRq());
    await new Promise((r) => setTimeout(r, 200));
    socket.destroy();
    await waitFor(() => counters().failed + counters().dropped > 0, 'the half instance to be counted');
    expect(counters()).toMatchObject({ failed: 0, dropped: 1 });
  });
});

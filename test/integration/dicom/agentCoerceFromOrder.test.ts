// Tag coercion from the HIS order, wired through the agent: the HIS pushes an order over
// POST /api/orders, a modality sends an image without a Patient ID, and the PACS (DCMTK
// storescp) receives the copy with the HIS's Patient ID while the box keeps the original.
import { afterEach, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { extractInstanceMeta } from '../../../modules/dicom/data/instanceMeta.ts';
import { syntheticPart10 } from '../../unit/dicom/dataFixtures.ts';
import { freePort } from '../../helpers/ports.ts';
import { startTestAgent } from '../../helpers/testAgent.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { requireTool, runTool, startStorescp } from './dcmtkPeers.ts';

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

describe('coercion from the order cache in the agent', () => {
  it('fills Patient ID from the order with the same Accession Number; the stored original keeps its own', async () => {
    requireTool('storescp', 'dcmtk');
    const pacsDir = tempDir('pacs-');
    cleanups.push(pacsDir.cleanup);
    const [pacsPort, scpPort] = [await freePort(), await freePort()];
    const pacs = await startStorescp(pacsDir.dir, pacsPort);
    cleanups.push(() => pacs.stop());
    const box = await startTestAgent(
      'coerce-box',
      `devices:
  us1: { driver: dicom-scp, host: 127.0.0.1, port: ${scpPort}, aeTitle: EDGE, allowedCallers: [{ aeTitle: US01, addresses: [127.0.0.1] }], routes: [pacs] }
destinations:
  pacs:
    type: dicom-cstore
    host: 127.0.0.1
    port: ${pacsPort}
    calledAe: PACS
    ordered: false
    coerce:
      - { tag: PatientID, fromOrder: patientId, when: empty }
      - { tag: InstitutionName, value: Bệnh viện Đa khoa Tỉnh }
`,
    );
    cleanups.push(() => box.close());
    const cookie = await box.login();
    const order = {
      orderId: 'ORD-1',
      action: 'new',
      accessionNumber: 'ACC0042',
      patient: { hisPatientId: 'HIS-4242', fullName: 'Nguyễn Văn A' },
      items: [{ code: 'XQ-NGUC', modality: 'DX' }],
    };
    const posted = await fetch(`${box.url}/api/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie, origin: box.url },
      body: JSON.stringify(order),
    });
    expect(posted.status).toBe(200);

    const file = join(pacsDir.dir, 'sent.dcm');
    writeFileSync(file, syntheticPart10({ sopInstanceUid: '1.2.826.0.1.3680043.10.77.1', patientId: ' ', accessionNumber: 'ACC0042' }));
    const sent = await runTool('storescu', ['-aet', 'US01', '-aec', 'EDGE', '127.0.0.1', String(scpPort), file]);
    expect(sent.code, sent.stderr).toBe(0);

    const received = () => readdirSync(pacsDir.dir).filter((f) => f !== 'sent.dcm');
    // storescp creates the file before it has written it: wait until it parses whole.
    let atPacs: Awaited<ReturnType<typeof extractInstanceMeta>> | undefined;
    await waitFor(
      async () => received().length === 1 && (atPacs = await extractInstanceMeta(join(pacsDir.dir, received()[0]!)).catch(() => undefined)) !== undefined,
      'the instance at the PACS',
      20_000,
      100,
    );
    const atPacsPath = join(pacsDir.dir, received()[0]!);
    expect(atPacs!.patient.id).toBe('HIS-4242');
    expect(atPacs!.study.accessionNumber).toBe('ACC0042');
    expect(readFileSync(atPacsPath).includes(Buffer.from('Bệnh viện Đa khoa Tỉnh'))).toBe(true);

    // The box's own copy is the modality's bytes: no Patient ID.
    const res = await fetch(`${box.url}/api/studies`, { headers: { cookie } });
    const { studies } = (await res.json()) as { studies: Array<{ patientId: string | null; accessionNumber?: string | null }> };
    expect(studies).toHaveLength(1);
    expect(studies[0]!.patientId ?? '').toBe('');
  });
});

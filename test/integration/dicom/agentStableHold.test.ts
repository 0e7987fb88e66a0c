// The "stable" hold through the agent: a modality sends a study's instances a while apart; the
// PACS (DCMTK storescp) gets none of them before the study has been quiet for stableSeconds,
// then all of them. The dicom-scp journals instances with the Study Instance UID as order key.
import { afterEach, describe, expect, it } from 'vitest';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

const STUDY = '1.2.826.0.1.3680043.10.88';

describe('stableSeconds in the agent', () => {
  it('holds a study until it has been quiet for stableSeconds, then sends all its instances', async () => {
    requireTool('storescp', 'dcmtk');
    const pacsDir = tempDir('pacs-');
    const sendDir = tempDir('send-');
    cleanups.push(pacsDir.cleanup, sendDir.cleanup);
    const [pacsPort, scpPort] = [await freePort(), await freePort()];
    const pacs = await startStorescp(pacsDir.dir, pacsPort);
    cleanups.push(() => pacs.stop());
    const box = await startTestAgent(
      'stable-box',
      `devices:
  us1: { driver: dicom-scp, host: 127.0.0.1, port: ${scpPort}, aeTitle: EDGE, allowedCallers: [{ aeTitle: US01, addresses: [127.0.0.1] }], routes: [pacs] }
destinations:
  pacs: { type: dicom-cstore, host: 127.0.0.1, port: ${pacsPort}, calledAe: PACS, ordered: false, stableSeconds: 2 }
`,
    );
    cleanups.push(() => box.close());

    const received = () => readdirSync(pacsDir.dir);
    let lastSent = 0;
    for (let i = 1; i <= 3; i++) {
      const file = join(sendDir.dir, `i${i}.dcm`);
      writeFileSync(file, syntheticPart10({ sopInstanceUid: `${STUDY}.1.${i}`, studyUid: STUDY }));
      lastSent = Date.now();
      const sent = await runTool('storescu', ['-aet', 'US01', '-aec', 'EDGE', '127.0.0.1', String(scpPort), file]);
      expect(sent.code, sent.stderr).toBe(0);
      if (i < 3) await new Promise((r) => setTimeout(r, 700));
      // Each new instance restarts the quiet time: nothing has left yet.
      expect(received()).toEqual([]);
    }
    await new Promise((r) => setTimeout(r, 1_500));
    expect(received()).toEqual([]);
    await waitFor(() => received().length === 3, 'the study at the PACS', 20_000, 50);
    // Not before 2 s after the last instance was sent (its receive time is later still).
    expect(Date.now() - lastSent).toBeGreaterThanOrEqual(2_000);

    // The outbox groups by study: the order key is the Study Instance UID.
    const cookie = await box.login();
    const list = async () =>
      ((await (await fetch(`${box.url}/api/outbox/pacs/items`, { headers: { cookie } })).json()) as { items: Array<{ orderKey: string; state: string }> })
        .items;
    await waitFor(async () => (await list()).every((i) => i.state === 'done'), 'outcomes recorded');
    const items = await list();
    expect(items.map((i) => [i.orderKey, i.state])).toEqual([
      [STUDY, 'done'],
      [STUDY, 'done'],
      [STUDY, 'done'],
    ]);
  });
});

// The agent's wiring of the study index: instances journaled but not indexed (a crash between the
// two) are listed after a restart, and the hourly retention purges forwarded ones after imagesDays.
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import pino from 'pino';
import { Agent } from '../../../core/controller.ts';
import { openStore } from '../../../core/store/store.ts';
import { syntheticPart10, VN_PATIENT } from '../../unit/dicom/dataFixtures.ts';
import { TEST_PASSWORD, writeAgentConfig } from '../../helpers/agentConfig.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { MODULES } from '../../../modules/index.ts';

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function adminFetch(base: string, path: string): Promise<unknown> {
  const login = await fetch(`${base}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'admin', password: TEST_PASSWORD }),
  });
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  const res = await fetch(`${base}${path}`, { headers: { cookie } });
  expect(res.status).toBe(200);
  return res.json();
}

describe('study index in the agent', () => {
  it('lists, after a restart, an instance that was journaled before its index row was written', async () => {
    const { dir, cleanup } = tempDir('edge-agent-');
    cleanups.push(cleanup);
    // What a crash right after the journal append leaves: the entry and its file, no index row.
    const store = await openStore({ dir: join(dir, 'data') });
    const ref = await store.blobs.write(syntheticPart10({ sopInstanceUid: '1.2.826.0.1.3680043.10.9.1', studyUid: '1.2.826.0.1.3680043.10.9' }));
    await store.journalFor('us1', []).append({
      stream: 'dicom.instance',
      kind: 'C-STORE',
      idempotencyKey: `1.2.826.0.1.3680043.10.9.1:${ref.hash}`,
      blob: ref,
      personal: true,
      meta: { callingAe: 'US01' },
    });
    store.close();

    const agent = new Agent({
      modules: MODULES,
      configFile: await writeAgentConfig(dir, { sinkUrl: 'http://127.0.0.1:9/none' }),
      log: pino({ level: 'silent' }),
    });
    cleanups.push(() => agent.stop('test done'));
    await agent.start();
    const base = `http://127.0.0.1:${agent.httpPort}`;
    let studies: Array<{ studyUid: string; patientName: string | null }> = [];
    await waitFor(
      async () => {
        studies = ((await adminFetch(base, '/api/studies')) as { studies: typeof studies }).studies;
        return studies.length > 0;
      },
      'the study listed',
      10_000,
      200,
    );
    expect(studies[0]).toMatchObject({ studyUid: '1.2.826.0.1.3680043.10.9', patientName: VN_PATIENT });
  });
});

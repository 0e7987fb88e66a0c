import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { studyUidForOrder } from '../../../modules/dicom/data/worklist.ts';
import { repeatedTopLevelKeys } from '../../helpers/logKeys.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';

// `npm start` as a person runs it: the demo configuration on the fixed demo ports, with the
// simulators. Data flows from the simulated monitor through the box to both destinations.
describe('npm start (the demo)', () => {
  it('starts the agent and simulators, and items flow from the simulated monitor and ASTM analyzer to the HIS, the LIS and the province ingest', async () => {
    // The demo configuration unchanged but for a fresh, empty data directory.
    const { dir, cleanup } = tempDir('edge-demo-');
    const config = join(dir, 'demo.yaml');
    writeFileSync(config, readFileSync('config/demo.yaml', 'utf8').replace('dataDir: ../data/demo', 'dataDir: ./data'));
    copyFileSync('config/demo.secrets.yaml', join(dir, 'demo.secrets.yaml'));
    const child = spawn(process.execPath, ['bin/edge-agent.js', 'start', '--config', config, '--sim'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    try {
      await waitFor(() => out.includes('"msg":"ready"'), 'the demo agent to be ready', 30_000);
      const auth = { authorization: 'Basic ' + Buffer.from('admin:edge-demo-2026').toString('base64') };
      await waitFor(
        async () => {
          const res = await fetch('http://127.0.0.1:8080/api/outbox', { headers: auth });
          const body = (await res.json()) as { destinations: Array<{ destination: string; delivered: number }> };
          return ['his', 'lis', 'province', 'pacs'].every((d) => (body.destinations.find((x) => x.destination === d)?.delivered ?? 0) > 0);
        },
        'items delivered to the HIS, the LIS, the province and the PACS',
        30_000,
        500,
      );
      expect((await fetch('http://127.0.0.1:8080/readyz')).status).toBe(200);
      // The simulated HIS's imaging order (OMI^O23) reached the modality through its worklist: the
      // study it sent carries the order's accession and the Study Instance UID the worklist gave.
      const studies = (await (await fetch('http://127.0.0.1:8080/api/studies', { headers: auth })).json()) as {
        studies: Array<{ studyUid: string; accessionNumber: string | null; patientName: string | null }>;
      };
      const fromWorklist = studies.studies.find((st) => st.accessionNumber?.startsWith('CT') && st.studyUid === studyUidForOrder(st.accessionNumber));
      expect(fromWorklist?.patientName).toBe('Phạm^Thị Hoa');
      // A ticket taken at the kiosk comes out of the simulated printer (decoded back to a PNG).
      const res = await fetch('http://127.0.0.1:8080/api/kiosk/checkin', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ service: 'noi' }),
      });
      expect(res.status).toBe(200);
      await waitFor(() => existsSync(join(dir, 'data', 'printed', 'job-1.png')), 'the ticket printed by the simulated printer', 15_000);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      cleanup();
    }
    const errors = out.split('\n').filter((l) => l.includes('"level":"error"'));
    expect(errors).toEqual([]);
    const repeated = out.split('\n').filter((l) => l.startsWith('{') && repeatedTopLevelKeys(l).length > 0);
    expect(repeated).toEqual([]);
  });
});

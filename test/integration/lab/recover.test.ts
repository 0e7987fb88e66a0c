// Issue #16 point 4: results a box acknowledged under the old identity rule and never stored are
// found again in the raw messages of its journal, listed, and forwarded when told to.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHl7 } from '../../../modules/hl7/message.ts';
import { extractHl7Results } from '../../../modules/hl7/results.ts';
import { legacyResultIdentity } from '../../../modules/lab/result.ts';
import { TEST_PASSWORD } from '../../helpers/agentConfig.ts';
import { hl7Fixture } from '../../helpers/hl7Fixtures.ts';
import { startTestAgent, type TestAgent } from '../../helpers/testAgent.ts';
import { waitFor } from '../../helpers/wait.ts';
import { startMllpLis, type MllpLis } from '../../sim/mllpLis.ts';

let agent: TestAgent;
let lis: MllpLis;
const auth = { authorization: `Basic ${Buffer.from(`admin:${TEST_PASSWORD}`).toString('base64')}` };

beforeAll(async () => {
  lis = await startMllpLis();
  agent = await startTestAgent(
    'recover-box',
    `destinations:
  lis: { type: hl7-mllp-lis, host: 127.0.0.1, port: ${lis.port}, backoff: { initialSeconds: 0.2, maxSeconds: 1 } }
devices:
  abg: { driver: hl7-mllp, host: 127.0.0.1, port: 0, routes: [lis] }
`,
  );
});
afterAll(async () => {
  await agent.close();
  await lis.stop();
});

/** What the code before issue #16 stored for a message: the first result per (specimen, OBX-3.1, value, status, time), keyed by the old identity. */
async function storeAsTheOldRuleDid(text: string): Promise<number> {
  const journal = agent.agent.store.journalFor('abg', []);
  await journal.append({
    stream: 'lab.message',
    kind: 'ORU^R01',
    idempotencyKey: 'hl7:abg:BG000417',
    raw: Buffer.from(text, 'utf8'),
    personal: true,
    meta: { controlId: 'BG000417' },
  });
  const seen = new Set<string>();
  let stored = 0;
  for (const r of extractHl7Results(parseHl7(text), { device: 'abg', timezone: 'Asia/Ho_Chi_Minh', receivedAt: '2026-11-30T08:30:16.000+07:00' }).results) {
    const key = [r.specimenId, r.observationId[0] ?? '', r.valueText, r.status, r.completedRaw].join('\u001f');
    if (seen.has(key)) continue;
    seen.add(key);
    const res = await journal.append({ stream: 'lab.result', kind: 'hl7.result', idempotencyKey: legacyResultIdentity(r), parsed: r, personal: true });
    if (!res.duplicate) stored++;
  }
  return stored;
}

describe('edge-agent results recover', () => {
  it('lists what the old rule merged (pCO2(T), pO2(T), a second placeholder, tBil) and forwards it once when told to', async () => {
    const text = hl7Fixture('synthetic_bloodgas_v22.hl7');
    expect(await storeAsTheOldRuleDid(text)).toBe(17); // 21 OBX sent, 17 stored: the loss this issue is about

    const cli = (args: string[]) =>
      promisify(execFile)(process.execPath, ['bin/edge-agent.js', 'results', 'recover', '--url', agent.url, ...args], {
        env: { ...process.env, EDGE_PASSWORD: TEST_PASSWORD },
        encoding: 'utf8',
        timeout: 30_000,
      });
    const listed = await cli([]);
    expect(listed.stdout).toContain('4 result(s) acknowledged and never stored');
    for (const test of ['pCO2(T)\t38.5 mmHg', 'pO2(T)\t92.0 mmHg', 'FCOHb\t..... %', 'ctBil\t24.1 umol/L'])
      expect(listed.stdout).toContain(`abg\tBG26120401\t${test}`);
    expect(lis.messages).toHaveLength(0); // listing changes nothing

    const forwarded = await cli(['--forward']);
    expect(forwarded.stdout).toContain('4 result(s) journaled');
    await waitFor(() => lis.messages.length >= 1, 'the recovered report at the LIS', 20_000);
    const oru = lis.messages[0]!;
    expect(
      oru
        .split('\r')
        .filter((s) => s.startsWith('OBX|'))
        .map((s) => s.split('|')[3]),
    ).toEqual(['^pCO2(T)^M', '^pO2(T)^M', '^FCOHb^M', '^ctBil^M']);

    // Nothing is missing any more, and a second --forward stores nothing.
    const after = (await (await fetch(`${agent.url}/api/results/recover`, { headers: auth })).json()) as { unsent: unknown[] };
    expect(after.unsent).toEqual([]);
    expect((await cli(['--forward'])).stdout).toContain('no result is missing');
    const results = (await (await fetch(`${agent.url}/api/results?limit=100`, { headers: auth })).json()) as { results: unknown[] };
    expect(results.results).toHaveLength(21);
  }, 60_000);

  it('refuses without the admin login', async () => {
    expect((await fetch(`${agent.url}/api/results/recover`)).status).toBe(401);
    expect((await fetch(`${agent.url}/api/results/recover`, { method: 'POST' })).status).toBe(401);
  });
});

// Issue #16: every result an analyzer sent reaches the LIS whole — nothing merged, nothing
// dropped — across a kill -9. Debian's python3-hl7 `mllp_send` sends (an HL7 sender nobody here
// wrote), recording MLLP LISes receive in each format, and python3-hl7 parses what they got.
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../../core/http/password.ts';
import { TEST_PASSWORD } from '../../helpers/agentConfig.ts';
import { hl7Fixture } from '../../helpers/hl7Fixtures.ts';
import { freePort } from '../../helpers/ports.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { loadAstmFixture, startAstmAnalyzer } from '../../sim/astmAnalyzer.ts';
import { startMllpLis, type MllpLis } from '../../sim/mllpLis.ts';

const HL7_FILES = ['synthetic_bloodgas_v22.hl7', 'synthetic_cbc_v231_repeats.hl7', 'synthetic_chem_v25_two_orders.hl7'];
const ASTM_FILE = 'synthetic_chem_comments_equal_values.astm';
const { dir, cleanup } = tempDir('edge-whole-results-');
const ports = { http: 0, hl7: 0, astm: 0 };
const lis: Record<'order' | 'result' | 'raw', MllpLis> = {} as never;
let agent: ChildProcess | null = null;
const auth = { authorization: `Basic ${Buffer.from(`admin:${TEST_PASSWORD}`).toString('base64')}` };

/** What python3-hl7 reads in a message: segments as lists of field strings. */
function pyParse(messages: string[]): string[][][] {
  const script = 'import hl7,json,sys\nprint(json.dumps([[[str(f) for f in s] for s in hl7.parse(m)] for m in json.load(sys.stdin)]))';
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(messages), encoding: 'utf8' })) as string[][][];
}
const seg = (m: string[][], id: string) => m.filter((s) => s[0] === id);
const distinctMessages = (l: MllpLis) => [...new Map(l.messages.map((m) => [/\|ORU\^R01[^|]*\|([^|]*)\|/.exec(m)?.[1] ?? m, m])).values()];

async function startAgent(): Promise<void> {
  const child = spawn(process.execPath, ['bin/edge-agent.js', 'start', '--config', join(dir, 'agent.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  agent = child;
  await waitFor(
    () =>
      fetch(`http://127.0.0.1:${ports.http}/readyz`).then(
        (r) => r.ok,
        () => child.exitCode !== null && Promise.reject(new Error(out)),
      ),
    'the agent to be ready',
    30_000,
    100,
  );
}

async function killAgent(): Promise<void> {
  const child = agent!;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

beforeAll(async () => {
  if (spawnSync('which', ['mllp_send']).status !== 0) throw new Error('mllp_send is missing: apt-get install python3-hl7');
  lis.order = await startMllpLis();
  lis.result = await startMllpLis();
  lis.raw = await startMllpLis();
  ports.http = await freePort();
  ports.hl7 = await freePort();
  ports.astm = await freePort();
  writeFileSync(join(dir, 'secrets.yaml'), `admin_hash: "${await hashPassword(TEST_PASSWORD)}"\n`);
  const backoff = 'backoff: { initialSeconds: 0.2, maxSeconds: 1 }';
  writeFileSync(
    join(dir, 'agent.yaml'),
    `version: 1
secretsFile: secrets.yaml
box: { id: lab-box, facility: bv-test, dataDir: ./data }
http: { host: 127.0.0.1, port: ${ports.http}, admin: { user: admin, passwordHash: !secret admin_hash } }
lanBroker: { enabled: false }
log: { level: warn }
destinations:
  lis: { type: hl7-mllp-lis, host: 127.0.0.1, port: ${lis.order.port}, ${backoff} }
  lis-each: { type: hl7-mllp-lis, host: 127.0.0.1, port: ${lis.result.port}, format: result, ${backoff} }
  lis-raw: { type: hl7-mllp-lis, host: 127.0.0.1, port: ${lis.raw.port}, format: passthrough, ${backoff} }
devices:
  abg:
    driver: hl7-mllp
    host: 127.0.0.1
    port: ${ports.hl7}
    routes: [lis, lis-each, lis-raw]
  chem:
    driver: astm
    transport: tcp-server
    host: 127.0.0.1
    port: ${ports.astm}
    routes: [lis, lis-each]
`,
  );
  await startAgent();
}, 60_000);

afterAll(async () => {
  if (agent && agent.exitCode === null && agent.signalCode === null) await killAgent();
  for (const l of Object.values(lis)) await l.stop();
  cleanup();
});

describe('every result the analyzer sent reaches the LIS whole', () => {
  it('HL7 (v2.2, 2.3.1, 2.5) by mllp_send and ASTM, across a kill -9 and a resend', async () => {
    // The LISes are down at first: everything waits in the outbox when the agent is killed.
    for (const l of Object.values(lis)) await l.down();
    const file = join(dir, 'messages.hl7');
    writeFileSync(file, HL7_FILES.map((f) => hl7Fixture(f).replace(/\r/g, '\r\n')).join(''));
    const sent = await promisify(execFile)('mllp_send', ['--loose', '--file', file, '--port', String(ports.hl7), '127.0.0.1'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(sent.stdout.match(/MSA\|(AA|CA)\|/g)).toHaveLength(3);
    const analyzer = await startAstmAnalyzer({ mode: 'client', port: ports.astm });
    await analyzer.ready();
    expect(await analyzer.send(loadAstmFixture(`fixtures/lab/${ASTM_FILE}`))).toMatchObject({ ok: true });
    await analyzer.stop();

    await killAgent();
    for (const l of Object.values(lis)) await l.up();
    await startAgent();
    // The analyzer sends the blood gas again (its operator pressed "re-send"): nothing new.
    writeFileSync(file, hl7Fixture(HL7_FILES[0]!).replace(/\r/g, '\r\n'));
    const again = await promisify(execFile)('mllp_send', ['--loose', '--file', file, '--port', String(ports.hl7), '127.0.0.1'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(again.stdout).toContain('MSA|AA|BG000417');

    // 1 + 1 + 2 orders from HL7 and 1 from ASTM; 21 + 7 + 3 + 4 results; 3 HL7 messages unchanged.
    await waitFor(
      () => distinctMessages(lis.order).length >= 5 && distinctMessages(lis.result).length >= 35 && distinctMessages(lis.raw).length >= 3,
      'every LIS to receive everything',
      60_000,
      100,
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(distinctMessages(lis.order)).toHaveLength(5);
    expect(distinctMessages(lis.result)).toHaveLength(35);
    expect(distinctMessages(lis.raw)).toHaveLength(3);

    const stored = (await (await fetch(`http://127.0.0.1:${ports.http}/api/results?limit=1000`, { headers: auth })).json()) as {
      results: Array<{ device: string; state: string; result: Record<string, unknown>; destinations: Array<{ destination: string; state: string }> }>;
    };
    expect(stored.results).toHaveLength(35);
    expect(stored.results.filter((r) => r.state !== 'forwarded')).toEqual([]);
    expect(new Set(stored.results.flatMap((r) => r.destinations.map((d) => d.destination)))).toEqual(new Set(['lis', 'lis-each']));

    // The order format, read by python3-hl7 at the LIS.
    const orders = pyParse(distinctMessages(lis.order));
    const bloodGas = orders.find((m) => seg(m, 'OBR')[0]?.[3] === 'BG26120401')!;
    expect(seg(bloodGas, 'OBX')).toHaveLength(21);
    expect(seg(bloodGas, 'OBX').map((o) => o[3])).toEqual(expect.arrayContaining(['^pCO2^M', '^pCO2(T)^M', '^pO2^M', '^pO2(T)^M', '^ctBil^M']));
    const fo2hb = seg(bloodGas, 'OBX').find((o) => o[3] === '^FO2Hb^M')!;
    expect([fo2hb[2], fo2hb[5], fo2hb[6], fo2hb[11]]).toEqual(['ST', '.....', '%', 'X']);
    const pH = seg(bloodGas, 'OBX').find((o) => o[3] === '^pH^M')!;
    expect([pH[5], pH[7], pH[8], pH[14]]).toEqual(['7.412', '7.350-7.450', 'N', '20261204082900+0700']);
    expect(seg(bloodGas, 'OBX').find((o) => o[3] === '^cK+^M')![8]).toBe('<');
    expect(seg(bloodGas, 'NTE').map((n) => n[3])).toEqual([
      'Arterial sample, patient on O2 2 L/min',
      'E118 oximetry module: dirty cuvette',
      'E118 oximetry module: dirty cuvette',
      'E031 below measuring range',
      'E032 above measuring range',
    ]);
    // Each NTE right after what it comments on.
    const ids = bloodGas.map((s) => (s[0] === 'OBX' ? s[3] : s[0]));
    expect(ids[ids.indexOf('^cK+^M') + 1]).toBe('NTE');
    expect(seg(bloodGas, 'PID')[0]!.slice(1, 6)).toEqual(['1', '', '', 'BN-2026-000417', 'Trần^Thị Bích^Ngọc']);

    const cbc = orders.find((m) => seg(m, 'OBR')[0]?.[3]?.startsWith('CB26120402'))!;
    expect(seg(cbc, 'PID')[0]!.slice(2, 6)).toEqual([
      'BHYT-GD4790123456789',
      'BN000233^^^BVDK^MR~079190001234^^^CCCD^NI',
      'CMND-024567891',
      'Nguyễn^Văn An^^Jr^Ông',
    ]);
    expect(seg(cbc, 'OBR')[0]![3]).toBe('CB26120402^RACK03^POS07');
    expect(seg(cbc, 'OBX').map((o) => [o[3]!.split('^')[0], o[4], o[5]])).toEqual([
      ['WBC', '', '7.2'],
      ['NEU%', '', '7.2'],
      ['RBC', '', '4.52'],
      ['HGB', '1', '135'],
      ['HGB', '2', '135'],
      ['PLT', '', '210'],
      ['PLT', '', '210'],
    ]);
    expect(seg(cbc, 'NTE').map((n) => n[3])).toEqual(['Mẫu hơi đông, đề nghị kiểm tra lại', 'Kết quả đã kiểm tra trên lam máu']);

    const chem = orders.filter((m) => seg(m, 'OBR')[0]?.[3]?.startsWith('CH2612040'));
    expect(chem.map((m) => [seg(m, 'OBR')[0]![3], seg(m, 'OBX').length, seg(m, 'SPM')[0]?.[4]])).toEqual(
      expect.arrayContaining([
        ['CH26120403', 1, 'SER'],
        ['CH26120404', 2, 'SER'],
      ]),
    );
    expect(seg(chem.find((m) => seg(m, 'OBR')[0]![3] === 'CH26120404')!, 'OBX')[1]!.slice(2, 6)).toEqual(['SN', 'EGFR^eGFR^L', '', '>^90']);

    const astm = orders.find((m) => seg(m, 'OBR')[0]?.[3]?.startsWith('SP26120405'))!;
    expect(seg(astm, 'OBX').map((o) => [o[3], o[5]])).toEqual([
      ['^^^ALT^Alanine aminotransferase', '32'],
      ['^^^AST^Aspartate aminotransferase', '32'],
      ['^^^GLU^Glucose', '5.1'],
      ['^^^GLU^Glucose', '5.1'],
    ]);
    expect(seg(astm, 'NTE').map((n) => n[3])).toEqual(['Bệnh nhân nhịn ăn 8 giờ', 'Mẫu vỡ hồng cầu nhẹ', 'Kiểm tra lại do tan máu']);
    expect(seg(astm, 'PID')[0]![5]).toBe('Phạm^Minh^Quân');

    // Passthrough: the analyzer's own bytes.
    const raw = distinctMessages(lis.raw).map((m) => m.replace(/\r+$/, ''));
    expect(raw.sort()).toEqual(HL7_FILES.map((f) => hl7Fixture(f).replace(/\r+$/, '')).sort());
  }, 150_000);
});

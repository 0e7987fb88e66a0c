// Personal data on the box (issue #15, point 8): the diagnostics bundle of the demo configuration
// carries no CCCD, no staff name, no secret; an inline secret is a located configuration error
// (file and console alike); a raw-capture flood fills its quota, never the disk, while every
// clinical message is still stored and acknowledged; the unit's V8 heap cap sits below MemoryMax.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { isMap, isScalar, parseDocument, type YAMLMap } from 'yaml';
import { Agent } from '../../../core/controller.ts';
import { ConfigError, loadConfig } from '../../../core/config/load.ts';
import { formatProblem } from '../../../core/config/types.ts';
import { createLogger } from '../../../core/log.ts';
import { startHttpSink, type HttpSink } from '../../sim/httpSink.ts';
import { TEST_PASSWORD, writeAgentConfig } from '../../helpers/agentConfig.ts';
import { msa, TestMllpClient } from '../../helpers/mllpClient.ts';
import { freePort } from '../../helpers/ports.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { MODULES } from '../../../modules/index.ts';

const DEMO_STAFF_CCCD = '079190001111';
const DEMO_STAFF_NAME = 'Nguyễn Thị Demo';
const DEMO_VSS_PASSWORD = 'demo-password';

/** A log destination that keeps nothing (the agent sets its level from the configuration). */
const nowhere = () => new Writable({ write: (_c, _e, cb) => cb() });

async function login(base: string, user: string, password: string): Promise<string> {
  const res = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, password }) });
  if (!res.ok) throw new Error(`login failed: ${res.status}`);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

/** config/demo.yaml as shipped, with every listening and outgoing port moved to a free one. */
async function demoOnFreePorts(dir: string): Promise<string> {
  const doc = parseDocument(readFileSync('config/demo.yaml', 'utf8'), { customTags: [{ tag: '!secret', resolve: (v: string) => v }] });
  const yamlText = readFileSync('config/demo.yaml', 'utf8');
  const setIn = (path: Array<string | number>, value: unknown) => doc.setIn(path, value);
  setIn(['box', 'dataDir'], join(dir, 'data'));
  setIn(['http', 'port'], 0);
  setIn(['lanBroker', 'enabled'], false);
  setIn(['province', 'enabled'], false);
  for (const section of ['devices', 'destinations']) {
    const map = doc.get(section) as YAMLMap;
    for (const pair of map.items) {
      const block = pair.value;
      if (isMap(block) && block.has('port')) block.set('port', await freePort());
      if (isMap(block) && block.has('url')) block.set('url', String(block.get('url')).replace(/:\d+/, `:${await freePort()}`));
      if (isMap(block) && block.has('baseUrl')) block.set('baseUrl', String(block.get('baseUrl')).replace(/:\d+/, `:${await freePort()}`));
    }
  }
  for (const path of [
    ['his', 'lookup', 'http', 'baseUrl'],
    ['his', 'lookup', 'vssGateway', 'baseUrl'],
  ])
    setIn(path, String(doc.getIn(path)).replace(/:\d+/, `:${await freePort()}`));
  // The staff member's identity is still there, as shipped.
  expect(isScalar(doc.getIn(['his', 'lookup', 'vssGateway', 'staffCccd'], true))).toBe(true);
  expect(yamlText).toContain(DEMO_STAFF_CCCD);
  const file = join(dir, 'demo.yaml');
  // The `!secret` tags survive toString() because the custom tag keeps its name.
  writeFileSync(file, doc.toString());
  copyFileSync('config/demo.secrets.yaml', join(dir, 'demo.secrets.yaml'));
  return file;
}

describe('the diagnostics bundle of the demo configuration', () => {
  const { dir, cleanup } = tempDir('edge-diag-');
  let agent: Agent;
  let base: string;

  beforeAll(async () => {
    const file = await demoOnFreePorts(dir);
    expect(readFileSync(file, 'utf8')).toContain('!secret vss_password');
    agent = new Agent({ modules: MODULES, configFile: file, log: createLogger('silent', nowhere()) });
    await agent.start();
    base = `http://127.0.0.1:${agent.httpPort}`;
  }, 60_000);
  afterAll(async () => {
    await agent?.stop('test done');
    cleanup();
  });

  it('holds no CCCD number, no staff name, no secret, no password hash; secrets only as !secret references', async () => {
    // The staff data and secrets are really loaded: the bundle would carry them if it did not mask.
    expect(agent.config.his?.lookup).toMatchObject({ vssGateway: { staffCccd: DEMO_STAFF_CCCD, staffName: DEMO_STAFF_NAME, password: DEMO_VSS_PASSWORD } });
    const res = await fetch(`${base}/api/diagnostics`, { headers: { cookie: await login(base, 'admin', 'edge-demo-2026') } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/attachment; filename="edge-diagnostics-demo-box-/);
    const text = await res.text();
    for (const leaked of [DEMO_STAFF_CCCD, DEMO_STAFF_NAME, 'Nguyễn Thị', DEMO_VSS_PASSWORD, 'scrypt$', 'i37SwvenJzKlK5fkOw1kiw'])
      expect(text, leaked).not.toContain(leaked);
    const bundle = JSON.parse(text) as { configText: string; devices: unknown[]; captures: { quotaBytes: number }; personalData: unknown[] };
    expect(bundle.configText).toMatch(/staffCccd: "?0791\*{5}111"?\n/);
    expect(bundle.configText).toContain('staffName: N. T. D.');
    expect(bundle.configText).toContain('password: !secret vss_password');
    expect(bundle.configText).toContain('passwordHash: !secret admin_password_hash');
    expect(bundle.configText).toContain('demo-hl7:');
    expect(bundle.configText).toContain('name: Mindray BC-5380 (simulated, HL7 over MLLP)');
    expect(bundle.devices.length).toBe(6);
    expect(bundle.captures.quotaBytes).toBe(256 * 1024 * 1024);
    expect(bundle.personalData).toEqual([]);
  });

  it('is for the admin only', async () => {
    expect((await fetch(`${base}/api/diagnostics`)).status).toBe(401);
  });
});

describe('inline secrets', () => {
  const { dir, cleanup } = tempDir('edge-inline-');
  afterAll(cleanup);

  it('are refused by the loader with file:line:column, the field and what to do instead', async () => {
    const file = await writeAgentConfig(dir, { sinkUrl: 'http://127.0.0.1:9/x' });
    expect(() => loadConfig(file)).not.toThrow();
    const inline = readFileSync(file, 'utf8')
      .replace('token: !secret ingest_token', 'token: tok-123')
      .replace('    url: "http://127.0.0.1:9/x"', '    url: "http://127.0.0.1:9/x"\n    headers: { Authorization: "Bearer abc", X-Trace: "yes" }');
    writeFileSync(file, inline);
    let problems: string[] = [];
    try {
      loadConfig(file);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      problems = (err as ConfigError).problems.map(formatProblem);
    }
    const tokenLine = inline.split('\n').findIndex((l) => l.includes('token: tok-123')) + 1;
    const headerLine = inline.split('\n').findIndex((l) => l.includes('Authorization')) + 1;
    expect(problems).toEqual([
      expect.stringMatching(
        new RegExp(
          `^${file}:${headerLine}:\\d+ destinations\\.central\\.headers\\.Authorization: is a secret and must not be written in the configuration: put it in the secrets file and write "!secret [a-z_]+" here$`,
        ),
      ),
      expect.stringMatching(
        new RegExp(
          `^${file}:${tokenLine}:\\d+ devices\\.monitor\\.token: is a secret and must not be written in the configuration: put it in the secrets file and write "!secret devices_monitor_token" here$`,
        ),
      ),
    ]);
  });

  it('are refused when an admin pastes one into the console, and the file stays as it was', async () => {
    const sink: HttpSink = await startHttpSink();
    const { dir: agentDir, cleanup: done } = tempDir('edge-inline-agent-');
    const file = await writeAgentConfig(agentDir, { sinkUrl: sink.url });
    const agent = new Agent({ modules: MODULES, configFile: file, log: createLogger('silent', nowhere()) });
    await agent.start();
    try {
      const base = `http://127.0.0.1:${agent.httpPort}`;
      const cookie = await login(base, 'admin', TEST_PASSWORD);
      const before = readFileSync(file, 'utf8');
      const text = before.replace('passwordHash: !secret admin_hash', 'passwordHash: "scrypt$16384$8$1$AAAA$BBBB"');
      const res = await fetch(`${base}/api/config`, {
        method: 'PUT',
        headers: { cookie, origin: base, 'content-type': 'application/json' },
        body: JSON.stringify({ text }),
      });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { problems: string[] };
      expect(body.problems).toEqual([
        expect.stringMatching(
          /agent\.yaml:3:\d+ http\.admin\.passwordHash: is a secret and must not be written in the configuration: put it in the secrets file and write "!secret [a-z_]+" here/,
        ),
      ]);
      expect(readFileSync(file, 'utf8')).toBe(before);
    } finally {
      await agent.stop('test done');
      await sink.stop();
      done();
    }
  });

  it('are absent from every shipped configuration: the demo and the examples load', () => {
    expect(() => loadConfig('config/demo.yaml')).not.toThrow();
    // The example as shipped: its secrets from secrets.example.yaml, whose placeholders a box refuses.
    expect(() => loadConfig('config/examples/district-lab.yaml', { example: true })).not.toThrow();
  });
});

describe('raw capture quota under a flood', () => {
  const { dir, cleanup } = tempDir('edge-capflood-');
  const QUOTA = 0.25 * 1024 * 1024;
  const logLines: string[] = [];
  let sink: HttpSink;
  let agent: Agent;
  let base: string;
  let port: number;

  beforeAll(async () => {
    sink = await startHttpSink();
    port = await freePort();
    const file = await writeAgentConfig(dir, {
      sinkUrl: sink.url,
      extra: `  analyzer:
    driver: hl7-mllp
    host: 127.0.0.1
    port: ${port}
    capture: true
    routes: [central]
store: { captureMB: 0.25 }`,
    });
    const memory = new Writable({
      write(chunk, _e, cb) {
        logLines.push(String(chunk));
        cb();
      },
    });
    agent = new Agent({ modules: MODULES, configFile: file, log: createLogger('info', memory) });
    await agent.start();
    base = `http://127.0.0.1:${agent.httpPort}`;
  });
  afterAll(async () => {
    await agent?.stop('test done');
    await sink?.stop();
    cleanup();
  });

  it('stops captures at store.captureMB with a log line and a device alarm, while every result is stored and acknowledged AA', async () => {
    const filler = 'OBX|2|ST|NOTE||' + 'x'.repeat(3000) + '\r';
    const message = (i: number) =>
      `MSH|^~\\&|BC-5380|Mindray|||20261122081500||ORU^R01|FLOOD${i}|P|2.3.1\rPID|1||P-${i}||Trần^Thị Bích\rOBR|1||S${i}\rOBX|1|NM|6690-2^WBC^LN||7.${i % 10}|10*9/L|4.0-10.0|N|||F\r${filler}`;
    const client = await TestMllpClient.open(port);
    const N = 200; // ~640 KB: more than twice the quota
    const acks: string[] = [];
    for (let i = 0; i < N; i += 20) {
      for (let k = i; k < i + 20; k++) client.write(message(k));
      for (let k = i; k < i + 20; k++) acks.push(await client.next());
    }
    client.close();
    expect(acks.map((a) => msa(a).code)).toEqual(Array(N).fill('AA'));
    expect(agent.store.journalStore.list({ source: 'analyzer', stream: 'lab.message', limit: 1000 })).toHaveLength(N);

    const usage = agent.store.captures.usage();
    expect(usage).toMatchObject({ stopped: 'quota', quotaBytes: QUOTA });
    expect(usage.usedBytes).toBeLessThanOrEqual(QUOTA);
    expect(usage.droppedBytes).toBeGreaterThan(QUOTA);
    await waitFor(() => logLines.some((l) => l.includes('raw captures stopped: capture quota (store.captureMB) reached')), 'the capture-quota log line');
    expect(logLines.filter((l) => l.includes('raw captures stopped')).length).toBe(1);

    const cookie = await login(base, 'admin', TEST_PASSWORD);
    const devices = (await (await fetch(`${base}/api/devices`, { headers: { cookie } })).json()) as {
      devices: Array<{ id: string; alarms: Array<Record<string, unknown>> }>;
    };
    expect(devices.devices.find((d) => d.id === 'analyzer')!.alarms).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'capture-quota', reason: 'quota', quotaBytes: QUOTA })]),
    );
    const metrics = await (await fetch(`${base}/metrics`, { headers: { cookie } })).text();
    expect(metrics).toMatch(/edge_capture_bytes\{kind="stopped"\} 1/);
    expect(metrics).toMatch(new RegExp(`edge_capture_bytes\\{kind="quota"\\} ${QUOTA}`));
    // Nothing personal in what was logged meanwhile.
    expect(logLines.join('')).not.toMatch(/Trần|Bích/);
  });
});

describe('memory cap of the systemd unit', () => {
  it('sets a V8 heap limit (NODE_OPTIONS) well below MemoryMax, and node honours it', () => {
    const unit = readFileSync('systemd/edge-agent.service', 'utf8');
    const memoryMax = /^MemoryMax=(\d+)([KMG])$/m.exec(unit);
    const nodeOptions = /^Environment=NODE_OPTIONS=(.*--max-old-space-size=(\d+).*)$/m.exec(unit);
    expect(memoryMax, 'MemoryMax=').not.toBeNull();
    expect(nodeOptions, 'Environment=NODE_OPTIONS=--max-old-space-size=').not.toBeNull();
    const maxBytes = Number(memoryMax![1]) * { K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[memoryMax![2] as 'K' | 'M' | 'G'];
    const r = spawnSync(process.execPath, ['-e', 'console.log(require("v8").getHeapStatistics().heap_size_limit)'], {
      env: { ...process.env, NODE_OPTIONS: nodeOptions![1]!.replace(/^"|"$/g, '') },
      encoding: 'utf8',
    });
    const heapLimit = Number(r.stdout.trim());
    expect(heapLimit).toBeGreaterThan(256 * 1024 ** 2);
    // Buffers, SQLite's cache and the code live outside the V8 heap: keep at least 40 % for them.
    expect(heapLimit).toBeLessThan(maxBytes * 0.6);
  });
});

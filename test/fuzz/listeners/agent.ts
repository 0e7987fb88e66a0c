/**
 * The agent under attack: its configuration (every listener on 127.0.0.1, ephemeral ports),
 * the credentials the fuzzer's devices need (read from what this file writes, never
 * hard-coded elsewhere), and the process itself with its RSS sampled from /proc.
 *
 * When a listener gains authentication (LAN broker users, HTTP accounts, ingest tokens, DICOM
 * callers, peer allow-lists), add it to `writeFuzzConfig` and to `FuzzSetup.credentials`: the
 * devices read their credentials from there, the attackers try both with and without them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { hashPassword } from '../../../core/http/password.ts';
import { freePort } from '../../helpers/ports.ts';
import { FUZZ_CALLED_AE, FUZZ_CALLING_AE } from '../seeds.ts';

export interface FuzzSetup {
  dir: string;
  configFile: string;
  dataDir: string;
  box: { id: string; facility: string };
  ports: { http: number; mqtt: number; hl7: number; hl7Orders: number; astm: number; dicom: number };
  device: { hl7: string; hl7Orders: string; astm: string; dicom: string; ingest: string };
  /** Largest HL7 message the listeners take (bytes): the attackers send frames up to twice as large. */
  hl7MaxMessageBytes: number;
  credentials: {
    admin: { user: string; password: string };
    ingestToken: string;
    /** The calling AE the real modality uses (allowed); attackers also try others. */
    dicomCallingAe: string;
    dicomCalledAe: string;
    /** LAN broker user, once the broker requires one (empty: anonymous). */
    mqtt: { username?: string; password?: string };
  };
}

export async function writeFuzzConfig(dir: string): Promise<FuzzSetup> {
  mkdirSync(dir, { recursive: true });
  const ports = {
    http: await freePort(),
    mqtt: await freePort(),
    hl7: await freePort(),
    hl7Orders: await freePort(),
    astm: await freePort(),
    dicom: await freePort(),
  };
  const credentials: FuzzSetup['credentials'] = {
    admin: { user: 'admin', password: `fuzz-${Math.random().toString(36).slice(2)}` },
    ingestToken: `tok-${Math.random().toString(36).slice(2)}`,
    dicomCallingAe: FUZZ_CALLING_AE,
    dicomCalledAe: FUZZ_CALLED_AE,
    // A device user of the LAN broker: the real client and the attackers log in with it.
    mqtt: { username: 'fuzz-screen', password: `fuzz-${Math.random().toString(36).slice(2)}` },
  };
  const setup: FuzzSetup = {
    dir,
    configFile: join(dir, 'agent.yaml'),
    dataDir: join(dir, 'data'),
    box: { id: 'fuzz-box', facility: 'bv-fuzz' },
    ports,
    device: { hl7: 'analyzer-hl7', hl7Orders: 'his-orders', astm: 'analyzer-astm', dicom: 'modality', ingest: 'monitor' },
    hl7MaxMessageBytes: 1024 * 1024,
    credentials,
  };
  writeFileSync(
    join(dir, 'secrets.yaml'),
    `admin_hash: "${await hashPassword(credentials.admin.password)}"\ningest_token: ${credentials.ingestToken}\nlan_fuzz_hash: "${await hashPassword(credentials.mqtt.password!)}"\n`,
  );
  writeFileSync(
    setup.configFile,
    `# Written by test/fuzz/listeners/agent.ts for one fuzz run.
version: 1
secretsFile: secrets.yaml
box: { id: ${setup.box.id}, facility: ${setup.box.facility}, name: Bệnh viện Fuzz, dataDir: ./data, timezone: Asia/Ho_Chi_Minh }
http: { host: 127.0.0.1, port: ${ports.http}, admin: { user: ${credentials.admin.user}, passwordHash: !secret admin_hash } }
lanBroker:
  host: 127.0.0.1
  port: ${ports.mqtt}
  healthIntervalSeconds: 1
  users: [{ username: ${credentials.mqtt.username}, role: device, passwordHash: !secret lan_fuzz_hash }]
store: { minFreeMB: 64, blobPoolMB: 16 }
log: { level: info }
queue:
  services:
    - { id: noi, name: Khám Nội }
  counters:
    - { id: q1, number: 1, services: [noi] }
devices:
  ${setup.device.hl7}:
    driver: hl7-mllp
    profile: mindray-bc
    host: 127.0.0.1
    port: ${ports.hl7}
    maxMessageBytes: ${setup.hl7MaxMessageBytes}
  ${setup.device.hl7Orders}:
    driver: hl7-mllp
    mode: orders
    host: 127.0.0.1
    port: ${ports.hl7Orders}
    maxMessageBytes: ${setup.hl7MaxMessageBytes}
  ${setup.device.astm}:
    driver: astm
    transport: tcp-server
    host: 127.0.0.1
    port: ${ports.astm}
    # The attackers keep up to 4 connections here at once; the analyzer must still get in.
    maxConnections: 16
  ${setup.device.dicom}:
    driver: dicom-scp
    host: 127.0.0.1
    port: ${ports.dicom}
    aeTitle: ${credentials.dicomCalledAe}
    allowedCallers: [{ aeTitle: ${credentials.dicomCallingAe} }]
    maxAssociations: 16
    maxPduLength: 65536
    artimMs: 5000
    idleTimeoutMs: 10000
  ${setup.device.ingest}:
    driver: http-ingest
    stream: device.vitals
    token: !secret ingest_token
`,
  );
  return setup;
}

export interface AgentProcess {
  pid: number;
  child: ChildProcess;
  /** Log lines by pino level (30 info, 40 warn, 50 error, 60 fatal), counted; the worst kept. */
  levels: Record<number, number>;
  errors: string[];
  rss: Array<{ t: number; bytes: number }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function readRss(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Starts bin/edge-agent.js on the configuration and waits until /healthz answers. */
export async function startAgent(setup: FuzzSetup, logFile: string): Promise<AgentProcess> {
  const child = spawn(process.execPath, ['bin/edge-agent.js', 'start', '--config', setup.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: WriteStream = createWriteStream(logFile);
  const levels: Record<number, number> = {};
  const errors: string[] = [];
  const onLine = (line: string): void => {
    out.write(line + '\n');
    let level = 0;
    try {
      const l = (JSON.parse(line) as { level?: number | string }).level ?? 0;
      level = typeof l === 'number' ? l : (({ trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as Record<string, number>)[l] ?? 0);
    } catch {
      level = 50; // not a log line: a stack trace or a runtime warning on stderr
    }
    levels[level] = (levels[level] ?? 0) + 1;
    if (level >= 50 && errors.length < 200) errors.push(line.slice(0, 2000));
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      out.end(() => resolve({ code, signal })); // the log is complete on disk once exited resolves
    }),
  );
  const rss: Array<{ t: number; bytes: number }> = [];
  const sampler = setInterval(() => {
    const bytes = readRss(child.pid!);
    if (bytes !== null) rss.push({ t: Date.now(), bytes });
  }, 1000);
  void exited.then(() => clearInterval(sampler));
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  // If the fuzzer itself dies, its agent must not outlive it.
  const orphan = (): void => void (alive() && child.kill('SIGKILL'));
  const interrupted = (signal: NodeJS.Signals): void => {
    orphan();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('exit', orphan);
  process.once('SIGTERM', interrupted);
  process.once('SIGINT', interrupted);
  void exited.then(() => {
    process.off('exit', orphan);
    process.off('SIGTERM', interrupted);
    process.off('SIGINT', interrupted);
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (!alive()) throw new Error(`the agent exited during start; log in ${logFile}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the agent did not answer /healthz within 60 s; log in ${logFile}`);
    }
    if (
      await fetch(`http://127.0.0.1:${setup.ports.http}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    pid: child.pid!,
    child,
    levels,
    errors,
    rss,
    exited,
    alive,
    async stop() {
      if (alive()) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const r = await exited;
      clearTimeout(timer);
      return r;
    },
  };
}

/**
 * The listener campaign: a real agent process with every network listener, attacked over real
 * sockets (several connections per listener at once, streams cut at random offsets, half-open
 * sockets, resets, slow drips, oversized frames) while real devices send valid traffic. Then:
 * the process is alive and answers /healthz, its RSS stayed within the bound, it stops cleanly,
 * the journal passes PRAGMA integrity_check, every acknowledged valid message is in the journal
 * exactly once, and what the garbage got stored is counted per listener and checked against
 * what each protocol allows.
 */
import { createReadStream, createWriteStream, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Rng } from '../lib/rng.ts';
import { startAgent, writeFuzzConfig, type AgentProcess, type FuzzSetup } from './agent.ts';
import { astmAttack, dicomAttack, hl7Attack, mqttAttack, type Attack } from './attacks.ts';
import { astmAnalyzer, hisOrders, hl7Analyzer, modality, monitor, mqttClient, type DeviceReport } from './devices.ts';
import { httpAttack, loadRoutes, statuses, type HttpAttack } from './http.ts';
import { throwAt, type ThrowResult } from './wire.ts';

export interface ListenerOptions {
  seed: string;
  until: number;
  dir: string;
  rssMaxBytes: number;
  log: (line: string) => void;
  /** A valid message not acknowledged within this is a failure (generous: the run may share 2 cores with a test suite). */
  ackTimeoutMs?: number;
  /** Attacking connections per listener at once. */
  concurrency?: number;
  /** Keep the agent's data directory even when the campaign passed. */
  keepData?: boolean;
}

interface ListenerStats {
  connections: number;
  bytesSent: number;
  refused: number;
  closedByBox: number;
  kinds: Record<string, number>;
  endings: Record<string, number>;
  answers: Record<string, number>;
}

export interface ListenerReport {
  summary: string[];
  failures: string[];
  attacks: Record<string, ListenerStats>;
  devices: Array<Omit<DeviceReport, 'acked'> & { acked: number }>;
  rss: { startBytes: number; maxBytes: number; endBytes: number; samples: number };
  stored: Array<{ source: string; stream: string; kind: string; count: number; valid: number }>;
  captureBytes: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const bump = (m: Record<string, number>, k: string, n = 1): void => void (m[k] = (m[k] ?? 0) + n);

/** Streams each listener's source may store (anything else stored from an attack is a failure). */
function allowedStreams(setup: FuzzSetup): Record<string, string[]> {
  return {
    [setup.device.hl7]: ['lab.message', 'lab.report', 'lab.result'],
    [setup.device.hl7Orders]: ['lab.order'],
    [setup.device.astm]: ['lab.astm.frame', 'lab.message', 'lab.report', 'lab.result', 'lab.astm.incomplete'],
    [setup.device.dicom]: ['dicom.instance'],
    [setup.device.ingest]: ['device.vitals'],
  };
}

function answersOf(listener: string, r: ThrowResult): string[] {
  const text = r.received.toString('latin1');
  switch (listener) {
    case 'hl7':
    case 'hl7-orders':
      return [...text.matchAll(/MSA\|(AA|AE|AR|CA|CE|CR)/g)].map((m) => m[1]!);
    case 'astm':
      return [...r.received].filter((b) => b === 0x06 || b === 0x15).map((b) => (b === 0x06 ? 'ACK' : 'NAK'));
    case 'dicom':
      return r.received.length
        ? [{ 2: 'A-ASSOCIATE-AC', 3: 'A-ASSOCIATE-RJ', 4: 'P-DATA', 6: 'A-RELEASE-RP', 7: 'A-ABORT' }[r.received[0]!] ?? `pdu-${r.received[0]}`]
        : [];
    case 'http':
      return statuses(r.received).map(String);
    default:
      return r.received.length ? ['bytes'] : [];
  }
}

export async function runListenerCampaign(o: ListenerOptions): Promise<ListenerReport> {
  const ackTimeoutMs = o.ackTimeoutMs ?? 60_000;
  const concurrency = o.concurrency ?? 3;
  mkdirSync(o.dir, { recursive: true });
  const setup = await writeFuzzConfig(join(o.dir, 'agent'));
  const failures: string[] = [];
  let agent: AgentProcess;
  try {
    agent = await startAgent(setup, join(o.dir, 'agent.log'));
  } catch (err) {
    return {
      summary: [`listener campaign: the agent did not start: ${(err as Error).message}`],
      failures: [`the agent did not start: ${(err as Error).message}`],
      attacks: {},
      devices: [],
      rss: { startBytes: 0, maxBytes: 0, endBytes: 0, samples: 0 },
      stored: [],
      captureBytes: 0,
    };
  }
  o.log(
    `[fuzz] listeners: agent pid ${agent.pid} (HTTP ${setup.ports.http}, MQTT ${setup.ports.mqtt}, HL7 ${setup.ports.hl7}/${setup.ports.hl7Orders}, ASTM ${setup.ports.astm}, DICOM ${setup.ports.dicom}); log in ${join(o.dir, 'agent.log')}`,
  );
  let stopped = false;
  void agent.exited.then(({ code, signal }) => {
    if (!stopped)
      failures.push(
        `the agent process exited during the run (code ${code}, signal ${signal}); last errors: ${agent.errors.slice(-3).join(' | ').slice(0, 1500)}`,
      );
  });
  const ctx = { setup, until: o.until, ackTimeoutMs, stopped: () => stopped || !agent.alive() };
  const devices = [
    hl7Analyzer(ctx),
    hisOrders(ctx),
    astmAnalyzer(ctx),
    modality(ctx, join(import.meta.dirname, '..', '..', '..', 'fixtures', 'dicom', 'pydicom', 'CT_small.dcm'), join(o.dir, 'modality')),
    mqttClient(ctx),
    monitor(ctx),
  ];

  const base = `http://127.0.0.1:${setup.ports.http}`;
  const basic = `Basic ${Buffer.from(`${setup.credentials.admin.user}:${setup.credentials.admin.password}`).toString('base64')}`;
  let routes: Awaited<ReturnType<typeof loadRoutes>> = [];
  try {
    routes = await loadRoutes(base, basic);
  } catch (err) {
    failures.push((err as Error).message);
  }
  const ingestKeys = { tokened: [] as string[], untokened: [] as string[] };
  const attacks: Record<string, ListenerStats> = {};
  const attack = async (listener: string, port: number, worker: number, make: (rng: Rng, seq: number) => Attack | HttpAttack): Promise<void> => {
    const s = (attacks[listener] ??= { connections: 0, bytesSent: 0, refused: 0, closedByBox: 0, kinds: {}, endings: {}, answers: {} });
    for (let seq = 0; Date.now() < o.until && !ctx.stopped(); seq++) {
      const rng = new Rng(o.seed, 'listener', listener, worker, seq);
      let a: Attack | HttpAttack;
      try {
        a = make(rng, worker * 1_000_000 + seq);
      } catch (err) {
        failures.push(`the ${listener} attack generator failed (a fuzzer bug): ${(err as Error).stack?.split('\n').slice(0, 3).join(' ')}`);
        continue;
      }
      const isHttp = 'complete' in a;
      const r = await throwAt(port, a.bytes, rng, { drip: 'drip' in a && a.drip === true, maxMs: 10_000 });
      s.connections++;
      s.bytesSent += r.sent;
      bump(s.kinds, isHttp ? (a as HttpAttack).label.split(' ')[0]! : (a as Attack).kind);
      bump(s.endings, r.ending);
      if (r.error === 'ECONNREFUSED') s.refused++;
      if (r.closedByPeer) s.closedByBox++;
      const answers = answersOf(listener, r);
      for (const x of answers) bump(s.answers, x);
      if (isHttp) {
        const h = a as HttpAttack;
        if (h.idempotencyKey) (h.idempotencyKey.startsWith('atk-tok-') ? ingestKeys.tokened : ingestKeys.untokened).push(h.idempotencyKey);
        const bad = statuses(r.received).find((st) => st >= 500);
        if (bad !== undefined) {
          const file = join(o.dir, `http-${bad}-${listener}-${worker}-${seq}.bin`);
          writeFileSync(file, a.bytes);
          failures.push(`HTTP ${bad} for ${h.label} (request in ${file})`);
        }
      }
    }
  };
  const attackers: Promise<void>[] = [];
  for (let w = 0; w < concurrency; w++) {
    attackers.push(attack('hl7', setup.ports.hl7, w, (rng) => hl7Attack(rng, setup.hl7MaxMessageBytes)));
    attackers.push(attack('hl7-orders', setup.ports.hl7Orders, w, (rng) => hl7Attack(rng, setup.hl7MaxMessageBytes)));
    attackers.push(attack('astm', setup.ports.astm, w, (rng) => astmAttack(rng)));
    attackers.push(
      attack('dicom', setup.ports.dicom, w, (rng) =>
        dicomAttack(rng, { callingAe: setup.credentials.dicomCallingAe, calledAe: setup.credentials.dicomCalledAe }),
      ),
    );
    attackers.push(attack('mqtt', setup.ports.mqtt, w, (rng) => mqttAttack(rng, setup.credentials.mqtt)));
    if (routes.length)
      attackers.push(
        attack('http', setup.ports.http, w, (rng, seq) =>
          httpAttack(rng, routes, { basic, ingestToken: setup.credentials.ingestToken, host: `127.0.0.1:${setup.ports.http}` }, seq),
        ),
      );
  }
  let lastLog = Date.now();
  while (Date.now() < o.until && agent.alive()) {
    await sleep(1000);
    if (Date.now() - lastLog > 60_000) {
      lastLog = Date.now();
      const rss = agent.rss.at(-1)?.bytes ?? 0;
      o.log(
        `[fuzz] listeners: ${Object.entries(attacks)
          .map(([k, v]) => `${k} ${v.connections}`)
          .join(', ')} connections; agent RSS ${(rss / 1048576).toFixed(0)} MB`,
      );
    }
  }
  stopped = true;
  await Promise.all(attackers);
  const deviceReports = await Promise.all(devices);

  // ---------------------------------------------------------------- after the run
  const alive = agent.alive();
  if (!alive && !failures.some((f) => f.startsWith('the agent process exited'))) failures.push('the agent process is not running at the end of the run');
  if (alive) {
    const health = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(ackTimeoutMs) }).then(
      (r) => r.status,
      (e: Error) => e.message,
    );
    if (health !== 200) failures.push(`/healthz answered ${health} after the run`);
  }
  const samples = agent.rss;
  const maxRss = Math.max(0, ...samples.map((x) => x.bytes));
  if (maxRss > o.rssMaxBytes)
    failures.push(
      `agent RSS reached ${(maxRss / 1048576).toFixed(0)} MB, above the bound of ${(o.rssMaxBytes / 1048576).toFixed(0)} MB (samples in ${join(o.dir, 'rss.csv')})`,
    );
  writeFileSync(join(o.dir, 'rss.csv'), 'epoch_ms,rss_bytes\n' + samples.map((x) => `${x.t},${x.bytes}`).join('\n') + '\n');
  const exit = alive ? await agent.stop() : await agent.exited;
  if (alive && (exit.code !== 0 || exit.signal)) failures.push(`the agent did not stop cleanly on SIGTERM (code ${exit.code}, signal ${exit.signal})`);
  const fatal = agent.errors.filter((l) => /"level":60|uncaught|unhandled|"msg":"request failed"/i.test(l));
  for (const l of fatal.slice(0, 10)) failures.push(`agent log: ${l.slice(0, 600)}`);

  for (const d of deviceReports)
    for (const f of d.failures.slice(0, 10)) failures.push(`${d.name}: ${f}${d.failures.length > 10 ? ` (and ${d.failures.length - 10} more)` : ''}`);

  // ---------------------------------------------------------------- the journal
  const db = new Database(join(setup.dataDir, 'journal.db'), { readonly: true });
  const integrity = db.pragma('integrity_check', { simple: true });
  if (integrity !== 'ok') failures.push(`PRAGMA integrity_check: ${String(integrity)}`);
  const keyCounts = (source: string, stream: string, keyExpr = 'idem_key'): Map<string, number> =>
    new Map(
      (
        db.prepare(`SELECT ${keyExpr} AS k, count(*) AS n FROM journal WHERE source = ? AND stream = ? GROUP BY k`).all(source, stream) as Array<{
          k: string;
          n: number;
        }>
      ).map((r) => [r.k, r.n]),
    );
  const exactlyOnce = (what: string, keys: string[], counts: Map<string, number>, keyOf: (k: string) => string): void => {
    const missing = keys.filter((k) => (counts.get(keyOf(k)) ?? 0) === 0);
    const doubled = keys.filter((k) => (counts.get(keyOf(k)) ?? 0) > 1);
    if (missing.length) failures.push(`${what}: ${missing.length} acknowledged message(s) not in the journal (${missing.slice(0, 5).join(', ')})`);
    if (doubled.length) failures.push(`${what}: ${doubled.length} message(s) stored more than once (${doubled.slice(0, 5).join(', ')})`);
  };
  const [hl7, orders, astm, dicom, , ingest] = deviceReports as [DeviceReport, DeviceReport, DeviceReport, DeviceReport, DeviceReport, DeviceReport];
  exactlyOnce('hl7 analyzer', hl7.acked, keyCounts(setup.device.hl7, 'lab.message'), (k) => `hl7:${setup.device.hl7}:${k}`);
  exactlyOnce('HIS orders', orders.acked, keyCounts(setup.device.hl7Orders, 'lab.order'), (k) => `hl7:${setup.device.hl7Orders}:${k}`);
  exactlyOnce('astm analyzer (results)', astm.acked, keyCounts(setup.device.astm, 'lab.result', "json_extract(parsed, '$.specimenId')"), (k) => k);
  exactlyOnce('modality', dicom.acked, keyCounts(setup.device.dicom, 'dicom.instance', "substr(idem_key, 1, instr(idem_key, ':') - 1)"), (k) => k);
  exactlyOnce('monitor', ingest.acked, keyCounts(setup.device.ingest, 'device.vitals'), (k) => k);
  // Rows of the valid devices, told apart by their ids (FZ-, FO-, FZA-, 2.25.7…, fz-): the rest came from the attacks.
  const valid = `CASE
    WHEN source = '${setup.device.hl7}' THEN idem_key LIKE 'hl7:${setup.device.hl7}:FZ-%' OR json_extract(parsed, '$.messageKey') LIKE 'hl7:${setup.device.hl7}:FZ-%'
    WHEN source = '${setup.device.hl7Orders}' THEN idem_key LIKE 'hl7:${setup.device.hl7Orders}:FO-%'
    WHEN source = '${setup.device.astm}' THEN instr(CAST(raw AS BLOB), CAST('FZA-' AS BLOB)) > 0 OR json_extract(parsed, '$.specimenId') LIKE 'FZA-%'
    WHEN source = '${setup.device.dicom}' THEN idem_key LIKE '2.25.7%'
    WHEN source = '${setup.device.ingest}' THEN idem_key LIKE 'fz-%'
    ELSE 0 END`;
  const stored = db
    .prepare(
      `SELECT source, stream, kind, count(*) AS count, coalesce(sum(coalesce(${valid}, 0)), 0) AS valid FROM journal GROUP BY source, stream, kind ORDER BY source, stream, kind`,
    )
    .all() as ListenerReport['stored'];
  const allowed = allowedStreams(setup);
  for (const row of stored) {
    const ok = allowed[row.source];
    if (ok && !ok.includes(row.stream))
      failures.push(`${row.count} ${row.stream} (${row.kind}) row(s) stored from ${row.source}, which may store only ${ok.join(', ')}`);
  }
  const untokened = ingestKeys.untokened.length
    ? (
        db.prepare(`SELECT count(*) AS n FROM journal WHERE idem_key IN (${ingestKeys.untokened.map(() => '?').join(',')})`).get(...ingestKeys.untokened) as {
          n: number;
        }
      ).n
    : 0;
  if (untokened) failures.push(`${untokened} ingest post(s) without the device token were stored`);
  const captureBytes = (db.prepare('SELECT coalesce(sum(length(bytes)), 0) AS n FROM capture_chunk').get() as { n: number }).n;
  db.close();

  // ---------------------------------------------------------------- report
  const mb = (n: number): string => `${(n / 1048576).toFixed(0)} MB`;
  const summary: string[] = [
    `listener campaign: agent RSS ${mb(samples[0]?.bytes ?? 0)} at start, ${mb(maxRss)} max (bound ${mb(o.rssMaxBytes)}), ${mb(samples.at(-1)?.bytes ?? 0)} at the end, ${samples.length} samples; journal integrity ${String(integrity)}; raw captures ${mb(captureBytes)}`,
    'listener     connections  MB sent  refused  closed by box  answers',
  ];
  for (const [k, s] of Object.entries(attacks)) {
    const answers = Object.entries(s.answers)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([a, n]) => `${a}×${n}`)
      .join(' ');
    summary.push(
      `${k.padEnd(12)} ${String(s.connections).padStart(11)} ${(s.bytesSent / 1048576).toFixed(1).padStart(8)} ${String(s.refused).padStart(8)} ${String(s.closedByBox).padStart(14)}  ${answers}`,
    );
  }
  summary.push('valid devices (every message must be acknowledged, then found once in the journal):');
  for (const d of deviceReports)
    summary.push(`  ${d.name}: ${d.acked.length || d.sent} acknowledged, ${d.failures.length} failure(s), slowest ${d.slowestAckMs} ms`);
  summary.push('journal rows per source, stream and kind:');
  for (const row of stored)
    summary.push(`  ${row.source} ${row.stream} ${row.kind}: ${row.count - row.valid} from attacks${row.valid ? `, ${row.valid} from the valid device` : ''}`);
  const levels = Object.entries(agent.levels)
    .map(([l, n]) => `${{ 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }[Number(l)] ?? l}×${n}`)
    .join(' ');
  summary.push(`agent log lines: ${levels}; stopped with code ${exit.code}${exit.signal ? ` signal ${exit.signal}` : ''}`);
  const errorShapes = new Map<string, number>();
  for (const l of agent.errors) {
    let msg = l.slice(0, 120);
    try {
      msg = (JSON.parse(l) as { msg?: string }).msg ?? msg;
    } catch {
      /* a raw stderr line */
    }
    errorShapes.set(msg, (errorShapes.get(msg) ?? 0) + 1);
  }
  for (const [m, n] of errorShapes) summary.push(`  error log ×${n}: ${m}`);
  const result: ListenerReport = {
    summary,
    failures,
    attacks,
    devices: deviceReports.map((d) => ({ ...d, acked: d.acked.length || d.sent })),
    rss: { startBytes: samples[0]?.bytes ?? 0, maxBytes: maxRss, endBytes: samples.at(-1)?.bytes ?? 0, samples: samples.length },
    stored,
    captureBytes,
  };
  writeFileSync(join(o.dir, 'report.json'), JSON.stringify(result, null, 2) + '\n');
  // The agent's data (journal with every capture: hundreds of MB per hour) is kept only when something failed.
  if (failures.length === 0 && !o.keepData) {
    rmSync(setup.dataDir, { recursive: true, force: true });
    // Hundreds of thousands of refusal lines per hour: kept, compressed.
    const log = join(o.dir, 'agent.log');
    await pipeline(createReadStream(log), createGzip(), createWriteStream(`${log}.gz`));
    rmSync(log);
  } else summary.push(`the agent's data directory is kept: ${setup.dataDir}`);
  return result;
}

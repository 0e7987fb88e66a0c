/**
 * The "real devices" of the listener campaign: an HL7 analyzer, the HIS sending orders, an ASTM
 * analyzer, a modality (DCMTK storescu, a peer nobody here wrote), an MQTT client (the mqtt
 * package) and a monitor posting JSON. Each sends valid traffic with unique ids the whole run
 * and expects every message to be positively acknowledged; the campaign then checks each is in
 * the journal exactly once. Credentials come from the configuration the campaign wrote.
 */
import { execFile } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { ACK, ENQ, EOT, NAK, splitIntoFrames } from '../../../modules/astm/frame.ts';
import { readDataset, stringElement, writeDataset } from '../../../modules/dicom/data/codec.ts';
import { parsePart10Header, part10Header } from '../../../modules/dicom/data/part10.ts';
import { EXPLICIT_LE } from '../../../modules/dicom/data/transferSyntaxes.ts';
import { boxTopic } from '../../../core/mqtt/topics.ts';
import { msa, TestMllpClient } from '../../helpers/mllpClient.ts';
import type { FuzzSetup } from './agent.ts';

export interface DeviceReport {
  name: string;
  /** Keys of the messages sent and positively acknowledged, to find in the journal. */
  acked: string[];
  sent: number;
  failures: string[];
  /** Slowest acknowledgement, ms. */
  slowestAckMs: number;
}

interface Ctx {
  setup: FuzzSetup;
  until: number;
  ackTimeoutMs: number;
  stopped: () => boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const stamp = (): string => new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);

function report(name: string): DeviceReport {
  return { name, acked: [], sent: 0, failures: [], slowestAckMs: 0 };
}

/** Sends one MLLP message and waits for its ACK (or a timeout / a closed connection). */
async function mllpExchange(client: TestMllpClient, text: string, timeoutMs: number): Promise<string> {
  client.write(text);
  return client.next(timeoutMs);
}

/** HL7 over MLLP: one kept-open connection, a new message once the previous ACK came back. */
async function hl7Sender(
  ctx: Ctx,
  name: string,
  port: number,
  build: (n: number) => { controlId: string; text: string },
  paceMs: number,
): Promise<DeviceReport> {
  const r = report(name);
  let client: TestMllpClient | null = null;
  for (let n = 1; !ctx.stopped(); n++) {
    const { controlId, text } = build(n);
    const started = Date.now();
    let outcome = '';
    while (outcome === '') {
      if (Date.now() - started > ctx.ackTimeoutMs) {
        outcome = `no ACK for ${controlId} within ${ctx.ackTimeoutMs} ms`;
        break;
      }
      try {
        client ??= await TestMllpClient.open(port);
        r.sent++;
        const ack = msa(await mllpExchange(client, text, ctx.ackTimeoutMs));
        outcome = ack.code === 'AA' || ack.code === 'CA' ? 'ok' : `${controlId} answered ${ack.code} ${ack.text}`;
        if (ack.controlId !== controlId) outcome = `ACK for ${controlId} names ${ack.controlId}`;
        break;
      } catch (err) {
        // Reconnect and resend: the box must answer a resend with the stored ACK, not store it twice.
        client?.close();
        client = null;
        if (Date.now() - started > ctx.ackTimeoutMs) outcome = `${controlId}: ${(err as Error).message}`;
        else await sleep(200);
      }
    }
    if (outcome === 'ok') {
      r.acked.push(controlId);
      r.slowestAckMs = Math.max(r.slowestAckMs, Date.now() - started);
    } else if (outcome) r.failures.push(outcome);
    await sleep(paceMs);
  }
  client?.close();
  return r;
}

export function hl7Analyzer(ctx: Ctx): Promise<DeviceReport> {
  return hl7Sender(
    ctx,
    'hl7 analyzer (ORU^R01)',
    ctx.setup.ports.hl7,
    (n) => {
      const controlId = `FZ-${n}`;
      const text =
        [
          `MSH|^~\\&|BC-5380|Mindray|||${stamp()}||ORU^R01|${controlId}|P|2.3.1||||||UNICODE`,
          `PID|1||BN-${n}^^^^MR||Nguyễn^Thị Ánh||19800101|F`,
          `OBR|1||FZS-${n}|00001^Automated Count^99MRC||${stamp()}|${stamp()}`,
          `OBX|1|NM|6690-2^WBC^LN||${(4 + (n % 60) / 10).toFixed(1)}|10*9/L|4.0-10.0|N|||F||||${stamp()}`,
        ].join('\r') + '\r';
      return { controlId, text };
    },
    300,
  );
}

export function hisOrders(ctx: Ctx): Promise<DeviceReport> {
  return hl7Sender(
    ctx,
    'HIS orders (OML^O21)',
    ctx.setup.ports.hl7Orders,
    (n) => {
      const controlId = `FO-${n}`;
      const text =
        [
          `MSH|^~\\&|HIS|BV|EDGE||${stamp()}||OML^O21^OML_O21|${controlId}|P|2.5.1||||||UNICODE UTF-8`,
          `PID|1||BN-${n}||Trần^Văn Bình||19700505|M`,
          `ORC|NW|P${n}`,
          `OBR|1|P${n}||GLU^Glucose`,
          `SPM|1|FZO-${n}||SER`,
        ].join('\r') + '\r';
      return { controlId, text };
    },
    700,
  );
}

/** An ASTM analyzer (E1381 over TCP): ENQ, frames each ACKed, EOT; a NAKed frame is resent. */
export async function astmAnalyzer(ctx: Ctx): Promise<DeviceReport> {
  const r = report('astm analyzer');
  let socket: Socket | null = null;
  const replies: number[] = [];
  let waiting: (() => void) | null = null;
  const open = (): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const s = connect(ctx.setup.ports.astm, '127.0.0.1', () => resolve(s));
      s.once('error', reject);
      s.on('data', (d: Buffer) => {
        for (const b of d) if (b === ACK || b === NAK || b === ENQ || b === EOT) replies.push(b);
        waiting?.();
      });
      s.on('close', () => {
        if (socket === s) socket = null;
        waiting?.();
      });
    });
  const reply = async (timeoutMs: number): Promise<number | null> => {
    const deadline = Date.now() + timeoutMs;
    while (replies.length === 0) {
      if (!socket || Date.now() > deadline) return null;
      await new Promise<void>((res) => {
        waiting = res;
        setTimeout(res, 200);
      });
      waiting = null;
    }
    return replies.shift()!;
  };
  for (let n = 1; !ctx.stopped(); n++) {
    const specimen = `FZA-${n}`;
    const text =
      [
        `H|\\^&|||FuzzAnalyzer^1.0|||||||P|1|${stamp()}`,
        `P|1||PID-${n}||Lê^Thị Mai||19900303|F`,
        `O|1|${specimen}||^^^WBC|R`,
        `R|1|^^^WBC|${(5 + (n % 40) / 10).toFixed(1)}|10*9/L||N||F||||${stamp()}`,
        'L|1|N',
      ].join('\r') + '\r';
    const frames = splitIntoFrames(Buffer.from(text, 'utf8'), 247);
    const started = Date.now();
    let outcome = '';
    attempt: while (!outcome) {
      if (Date.now() - started > ctx.ackTimeoutMs) {
        outcome = `${specimen}: not acknowledged within ${ctx.ackTimeoutMs} ms`;
        break;
      }
      try {
        socket ??= await open();
      } catch {
        await sleep(500);
        continue;
      }
      replies.length = 0;
      r.sent++;
      socket.write(Buffer.of(ENQ));
      const enq = await reply(ctx.ackTimeoutMs);
      if (enq !== ACK) {
        await sleep(enq === NAK ? 1000 : 200);
        continue;
      }
      for (const frame of frames) {
        let ok = false;
        for (let t = 0; t < 6 && !ok; t++) {
          socket?.write(frame);
          const a = await reply(ctx.ackTimeoutMs);
          if (a === null) continue attempt; // connection lost or silent: start the transmission again
          ok = a === ACK;
        }
        if (!ok) {
          outcome = `${specimen}: a frame was refused six times`;
          break attempt;
        }
      }
      socket?.write(Buffer.of(EOT));
      outcome = 'ok';
    }
    if (outcome === 'ok') {
      r.acked.push(specimen);
      r.slowestAckMs = Math.max(r.slowestAckMs, Date.now() - started);
    } else r.failures.push(outcome);
    await sleep(400);
  }
  (socket as Socket | null)?.destroy();
  return r;
}

/** A modality: DCMTK storescu sends one new instance every ~2 s and must get success. */
export async function modality(ctx: Ctx, fixture: string, workDir: string): Promise<DeviceReport> {
  const r = report('modality (storescu)');
  mkdirSync(workDir, { recursive: true });
  const file = readFileSync(fixture);
  const meta = parsePart10Header(file);
  const elements = readDataset(file.subarray(meta.datasetOffset), EXPLICIT_LE);
  for (let n = 1; !ctx.stopped(); n++) {
    const uid = `2.25.7${Date.now()}${n}`; // 2.25.7…: the campaign tells the modality's rows from the attackers' (2.25.5…)
    const dataset = writeDataset(
      elements.map((e) => (e.tag === 0x00080018 ? stringElement(e.tag, 'UI', uid) : e)),
      EXPLICIT_LE,
    );
    const path = join(workDir, `i${n}.dcm`);
    writeFileSync(
      path,
      Buffer.concat([part10Header({ sopClassUid: meta.sopClassUid!, sopInstanceUid: uid, transferSyntaxUid: meta.transferSyntaxUid }), dataset]),
    );
    const started = Date.now();
    r.sent++;
    const result = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile(
        'storescu',
        [
          '-aet',
          ctx.setup.credentials.dicomCallingAe,
          '-aec',
          ctx.setup.credentials.dicomCalledAe,
          '-to',
          String(Math.ceil(ctx.ackTimeoutMs / 1000)),
          '-ta',
          String(Math.ceil(ctx.ackTimeoutMs / 1000)),
          '-td',
          String(Math.ceil(ctx.ackTimeoutMs / 1000)),
          '127.0.0.1',
          String(ctx.setup.ports.dicom),
          path,
        ],
        { timeout: ctx.ackTimeoutMs * 2 },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}`.trim().slice(-400) }),
      ),
    );
    rmSync(path, { force: true });
    if (result.code === 0 && !/E: |Status: 0x[a-f0-9]{4}(?<!0x0000)/i.test(result.out)) {
      r.acked.push(uid);
      r.slowestAckMs = Math.max(r.slowestAckMs, Date.now() - started);
    } else r.failures.push(`storescu of ${uid} failed (exit ${result.code}): ${result.out}`);
    await sleep(1500);
  }
  return r;
}

/** An MQTT client: the box's health arrives every second, and its own publishes come back. */
export async function mqttClient(ctx: Ctx): Promise<DeviceReport> {
  const r = report('mqtt client');
  const { setup } = ctx;
  const client = mqtt.connect(`mqtt://127.0.0.1:${setup.ports.mqtt}`, {
    clientId: 'fuzz-screen',
    reconnectPeriod: 500,
    connectTimeout: 10_000,
    ...setup.credentials.mqtt,
  });
  const health = boxTopic('edge', setup.box.facility, setup.box.id, 'health');
  // Under the device's own id: the only place the LAN broker lets it publish.
  const echo = boxTopic('edge', setup.box.facility, setup.box.id, 'dev', setup.credentials.mqtt.username ?? 'fuzz-screen', 'echo');
  let lastHealth = 0;
  const echoes = new Map<string, number>();
  client.on('message', (topic, payload) => {
    if (topic === health) lastHealth = Date.now();
    else if (topic === echo) {
      const id = payload.toString();
      const t = echoes.get(id);
      if (t !== undefined) {
        echoes.delete(id);
        r.acked.push(id);
        r.slowestAckMs = Math.max(r.slowestAckMs, Date.now() - t);
      }
    }
  });
  client.on('connect', () => client.subscribe([health, echo], { qos: 1 }));
  client.on('error', () => undefined);
  const started = Date.now();
  let worstGap = 0;
  for (let n = 1; !ctx.stopped(); n++) {
    await sleep(1000);
    if (lastHealth) worstGap = Math.max(worstGap, Date.now() - lastHealth);
    else if (Date.now() - started > ctx.ackTimeoutMs) {
      r.failures.push(`no health message from the LAN broker within ${ctx.ackTimeoutMs} ms of connecting`);
      break;
    }
    if (lastHealth && Date.now() - lastHealth > ctx.ackTimeoutMs) {
      r.failures.push(`the LAN broker sent no health message for ${Math.round((Date.now() - lastHealth) / 1000)} s`);
      lastHealth = Date.now();
    }
    const id = `echo-${n}`;
    echoes.set(id, Date.now());
    r.sent++;
    if (client.connected) client.publish(echo, id, { qos: 1 });
    for (const [k, t] of echoes) {
      if (Date.now() - t > ctx.ackTimeoutMs) {
        r.failures.push(`publish ${k} did not come back within ${ctx.ackTimeoutMs} ms`);
        echoes.delete(k);
      }
    }
  }
  r.slowestAckMs = Math.max(r.slowestAckMs, worstGap);
  await client.endAsync(true).catch(() => undefined);
  // Echoes are checked here, not in the journal (the broker stores nothing): keep them out of it.
  r.acked = [];
  return r;
}

/** A monitor posting JSON to /api/ingest/<device> with its token and a unique Idempotency-Key; /healthz polled too. */
export async function monitor(ctx: Ctx): Promise<DeviceReport> {
  const r = report('monitor (HTTP ingest) and /healthz');
  const base = `http://127.0.0.1:${ctx.setup.ports.http}`;
  for (let n = 1; !ctx.stopped(); n++) {
    const key = `fz-${n}`;
    const started = Date.now();
    let outcome = '';
    while (!outcome) {
      r.sent++;
      try {
        const res = await fetch(`${base}/api/ingest/${ctx.setup.device.ingest}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${ctx.setup.credentials.ingestToken}`, 'idempotency-key': key },
          body: JSON.stringify({ spo2: 90 + (n % 10), pulse: 70 + (n % 30), seq: n }),
          signal: AbortSignal.timeout(ctx.ackTimeoutMs),
        });
        const body = (await res.json()) as { duplicate?: boolean };
        outcome = res.status === 200 ? 'ok' : `ingest ${key} answered ${res.status} ${JSON.stringify(body).slice(0, 200)}`;
      } catch (err) {
        if (Date.now() - started > ctx.ackTimeoutMs) outcome = `ingest ${key}: ${(err as Error).message}`;
        else await sleep(200);
      }
    }
    if (outcome === 'ok') {
      r.acked.push(key);
      r.slowestAckMs = Math.max(r.slowestAckMs, Date.now() - started);
    } else r.failures.push(outcome);
    if (n % 4 === 0) {
      const ok = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(ctx.ackTimeoutMs) }).then(
        (x) => x.status === 200,
        () => false,
      );
      if (!ok) r.failures.push(`/healthz did not answer 200 within ${ctx.ackTimeoutMs} ms`);
    }
    await sleep(250);
  }
  return r;
}

export type DeviceCtx = Ctx;

import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { systemClock } from '../../core/contract/clock.ts';
import { AstmLink, ENQ, EOT, LF, parseFrame, STX } from '../astm/index.ts';
import { MllpDecoder, mllpFrame } from '../hl7/index.ts';

/**
 * `edge-agent replay FILE --to tcp://HOST:PORT [--astm|--mllp]`: re-sends what a device sent,
 * from a raw capture (GET /api/captures/:id with Accept: application/octet-stream gives the
 * inbound bytes), so IT staff can reproduce a problem against a test LIS or a box. It speaks the
 * protocol as the device did: MLLP waits for each ACK; ASTM does ENQ/frames/EOT with ACK waits.
 */

export type ReplayProtocol = 'mllp' | 'astm';

export interface ReplayReport {
  protocol: ReplayProtocol;
  sent: number;
  /** One line per message: its answer (MSA-1 and MSA-2 for HL7; ACK or the failure for ASTM). */
  answers: string[];
  failed: number;
}

export class ReplayError extends Error {}

/** Guesses the protocol from the first meaningful byte: VT opens MLLP, ENQ/STX open ASTM. */
export function detectProtocol(bytes: Buffer): ReplayProtocol {
  const first = bytes.find((b) => b !== 0x0d && b !== 0x0a && b !== 0x20);
  if (first === 0x0b) return 'mllp';
  if (first === ENQ || first === STX) return 'astm';
  throw new ReplayError('cannot tell the protocol from the first byte; say --astm or --mllp');
}

/** The HL7 messages inside captured MLLP bytes. */
export function mllpMessages(bytes: Buffer): Buffer[] {
  return new MllpDecoder().push(bytes).messages;
}

/**
 * The transmissions inside captured ASTM bytes: frames between ENQ and EOT, checksum-failed
 * frames and retransmissions (same FN and text as the previous frame) dropped, texts joined.
 * A transmission without its EOT (the device gave up) is not replayed: it never became results.
 */
export function astmTransmissions(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let current: Buffer[] | null = null;
  let last: { fn: number; text: Buffer } | null = null;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === ENQ) {
      current = [];
      last = null;
    } else if (b === EOT) {
      if (current && current.length > 0) out.push(Buffer.concat(current));
      current = null;
    } else if (b === STX && current) {
      const end = bytes.indexOf(LF, i);
      if (end < 0) break;
      try {
        const frame = parseFrame(bytes.subarray(i, end + 1));
        if (!(last && last.fn === frame.fn && last.text.equals(frame.text))) current.push(frame.text);
        last = { fn: frame.fn, text: frame.text };
      } catch {
        // The receiver NAKed it then; the device's retransmission follows in the capture.
      }
      i = end;
    }
  }
  return out;
}

function parseTarget(url: string): { host: string; port: number } {
  const m = /^tcp:\/\/([^:/]+):(\d+)\/?$/.exec(url);
  if (!m) throw new ReplayError(`--to must look like tcp://HOST:PORT, not "${url}"`);
  return { host: m[1]!, port: Number(m[2]) };
}

function open(url: string): Promise<Socket> {
  const { host, port } = parseTarget(url);
  return new Promise((resolve, reject) => {
    const socket = connect(port, host, () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.setNoDelay(true);
    socket.once('error', (err) => reject(new ReplayError(`cannot connect to ${url}: ${err.message}`)));
  });
}

async function replayMllp(socket: Socket, messages: Buffer[], timeoutMs: number): Promise<ReplayReport> {
  const decoder = new MllpDecoder();
  const replies: Buffer[] = [];
  let wake: (() => void) | null = null;
  socket.on('data', (d: Buffer) => {
    replies.push(...decoder.push(d).messages);
    wake?.();
  });
  const report: ReplayReport = { protocol: 'mllp', sent: 0, answers: [], failed: 0 };
  for (const message of messages) {
    socket.write(mllpFrame(message));
    report.sent++;
    const reply = await new Promise<Buffer | null>((resolve) => {
      const take = () => {
        if (replies.length === 0) return false;
        clearTimeout(timer);
        wake = null;
        resolve(replies.shift()!);
        return true;
      };
      const timer = setTimeout(() => resolve(null), timeoutMs);
      if (!take()) wake = () => void take();
    });
    const controlId = message.toString('latin1').split('\r')[0]!.split('|')[9] ?? '?';
    if (!reply) {
      report.failed++;
      report.answers.push(`${controlId}: no answer within ${timeoutMs} ms`);
      continue;
    }
    const msaLine =
      reply
        .toString('utf8')
        .split(/\r|\n/)
        .find((l) => l.startsWith('MSA')) ?? '';
    const [, code = '?', acked = '?', text = ''] = msaLine.split('|');
    if (code !== 'AA' && code !== 'CA') report.failed++;
    report.answers.push(`${controlId}: ${code} for ${acked}${text ? ` (${text})` : ''}`);
  }
  return report;
}

async function replayAstm(socket: Socket, transmissions: Buffer[], frameSize: number): Promise<ReplayReport> {
  const link = new AstmLink(
    { clock: systemClock, role: 'instrument', frameSize },
    {
      write: (bytes) => socket.write(bytes),
      frame: async () => true,
      transmissionEnd: () => undefined,
    },
  );
  socket.on('data', (d: Buffer) => link.receive(d));
  const report: ReplayReport = { protocol: 'astm', sent: 0, answers: [], failed: 0 };
  for (const text of transmissions) {
    const outcome = await link.send(text);
    report.sent++;
    const first =
      text
        .toString('latin1')
        .split('\r')
        .find((r) => r.startsWith('O')) ?? text.toString('latin1').split('\r')[0]!;
    const label = first.slice(0, 40);
    if (!outcome.ok) report.failed++;
    report.answers.push(`${label}: ${outcome.ok ? 'accepted (every frame ACKed, EOT sent)' : `failed: ${outcome.reason}`}`);
  }
  link.close();
  return report;
}

export async function replay(options: { bytes: Buffer; to: string; protocol?: ReplayProtocol; frameSize?: number; timeoutMs?: number }): Promise<ReplayReport> {
  parseTarget(options.to);
  const protocol = options.protocol ?? detectProtocol(options.bytes);
  const items = protocol === 'mllp' ? mllpMessages(options.bytes) : astmTransmissions(options.bytes);
  if (items.length === 0) throw new ReplayError(`no complete ${protocol === 'mllp' ? 'MLLP message' : 'ASTM transmission (ENQ … EOT)'} in the file`);
  const socket = await open(options.to);
  try {
    return protocol === 'mllp' ? await replayMllp(socket, items, options.timeoutMs ?? 30_000) : await replayAstm(socket, items, options.frameSize ?? 247);
  } finally {
    socket.end();
    socket.destroy();
  }
}

export const REPLAY_USAGE = 'usage: edge-agent replay FILE --to tcp://HOST:PORT [--astm|--mllp] [--frame-size 247] [--timeout-ms 30000]\n';

/** The CLI command: prints one line per message and exits 1 when any was not accepted. */
export async function runReplay(argv: string[]): Promise<number> {
  let values, positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        to: { type: 'string' },
        astm: { type: 'boolean' },
        mllp: { type: 'boolean' },
        'frame-size': { type: 'string' },
        'timeout-ms': { type: 'string' },
      },
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${REPLAY_USAGE}`);
    return 2;
  }
  const file = positionals[0];
  if (!file || !values.to || (values.astm && values.mllp)) {
    process.stderr.write(REPLAY_USAGE);
    return 2;
  }
  try {
    const report = await replay({
      bytes: readFileSync(file),
      to: values.to,
      ...(values.astm ? { protocol: 'astm' as const } : values.mllp ? { protocol: 'mllp' as const } : {}),
      ...(values['frame-size'] ? { frameSize: Number(values['frame-size']) } : {}),
      ...(values['timeout-ms'] ? { timeoutMs: Number(values['timeout-ms']) } : {}),
    });
    for (const line of report.answers) process.stdout.write(`${line}\n`);
    process.stdout.write(`${report.sent} ${report.protocol === 'mllp' ? 'message' : 'transmission'}(s) sent, ${report.failed} not accepted\n`);
    return report.failed > 0 ? 1 : 0;
  } catch (err) {
    process.stderr.write(`replay failed: ${(err as Error).message}\n`);
    return err instanceof ReplayError ? 2 : 1;
  }
}

import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { parseArgs } from 'node:util';
import { ENQ, EOT, LF, parseFrame, STX } from "../drivers/astm/frame.js";
import { AstmLink } from "../drivers/astm/link.js";
import { MllpDecoder, mllpFrame } from "../drivers/hl7/mllp.js";
import { systemClock } from "./clock.js";
export class ReplayError extends Error {
}
/** Guesses the protocol from the first meaningful byte: VT opens MLLP, ENQ/STX open ASTM. */
export function detectProtocol(bytes) {
    const first = bytes.find((b) => b !== 0x0d && b !== 0x0a && b !== 0x20);
    if (first === 0x0b)
        return 'mllp';
    if (first === ENQ || first === STX)
        return 'astm';
    throw new ReplayError('cannot tell the protocol from the first byte; say --astm or --mllp');
}
/** The HL7 messages inside captured MLLP bytes. */
export function mllpMessages(bytes) {
    return new MllpDecoder().push(bytes).messages;
}
/**
 * The transmissions inside captured ASTM bytes: frames between ENQ and EOT, checksum-failed
 * frames and retransmissions (same FN and text as the previous frame) dropped, texts joined.
 * A transmission without its EOT (the device gave up) is not replayed: it never became results.
 */
export function astmTransmissions(bytes) {
    const out = [];
    let current = null;
    let last = null;
    for (let i = 0; i < bytes.length; i++) {
        const b = bytes[i];
        if (b === ENQ) {
            current = [];
            last = null;
        }
        else if (b === EOT) {
            if (current && current.length > 0)
                out.push(Buffer.concat(current));
            current = null;
        }
        else if (b === STX && current) {
            const end = bytes.indexOf(LF, i);
            if (end < 0)
                break;
            try {
                const frame = parseFrame(bytes.subarray(i, end + 1));
                if (!(last && last.fn === frame.fn && last.text.equals(frame.text)))
                    current.push(frame.text);
                last = { fn: frame.fn, text: frame.text };
            }
            catch {
                // The receiver NAKed it then; the device's retransmission follows in the capture.
            }
            i = end;
        }
    }
    return out;
}
function parseTarget(url) {
    const m = /^tcp:\/\/([^:/]+):(\d+)\/?$/.exec(url);
    if (!m)
        throw new ReplayError(`--to must look like tcp://HOST:PORT, not "${url}"`);
    return { host: m[1], port: Number(m[2]) };
}
function open(url) {
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
async function replayMllp(socket, messages, timeoutMs) {
    const decoder = new MllpDecoder();
    const replies = [];
    let wake = null;
    socket.on('data', (d) => {
        replies.push(...decoder.push(d).messages);
        wake?.();
    });
    const report = { protocol: 'mllp', sent: 0, answers: [], failed: 0 };
    for (const message of messages) {
        socket.write(mllpFrame(message));
        report.sent++;
        const reply = await new Promise((resolve) => {
            const take = () => {
                if (replies.length === 0)
                    return false;
                clearTimeout(timer);
                wake = null;
                resolve(replies.shift());
                return true;
            };
            const timer = setTimeout(() => resolve(null), timeoutMs);
            if (!take())
                wake = () => void take();
        });
        const controlId = message.toString('latin1').split('\r')[0].split('|')[9] ?? '?';
        if (!reply) {
            report.failed++;
            report.answers.push(`${controlId}: no answer within ${timeoutMs} ms`);
            continue;
        }
        const msaLine = reply.toString('utf8').split(/\r|\n/).find((l) => l.startsWith('MSA')) ?? '';
        const [, code = '?', acked = '?', text = ''] = msaLine.split('|');
        if (code !== 'AA' && code !== 'CA')
            report.failed++;
        report.answers.push(`${controlId}: ${code} for ${acked}${text ? ` (${text})` : ''}`);
    }
    return report;
}
async function replayAstm(socket, transmissions, frameSize) {
    const link = new AstmLink({ clock: systemClock, role: 'instrument', frameSize }, {
        write: (bytes) => socket.write(bytes),
        frame: async () => true,
        transmissionEnd: () => undefined,
    });
    socket.on('data', (d) => link.receive(d));
    const report = { protocol: 'astm', sent: 0, answers: [], failed: 0 };
    for (const text of transmissions) {
        const outcome = await link.send(text);
        report.sent++;
        const first = text.toString('latin1').split('\r').find((r) => r.startsWith('O')) ?? text.toString('latin1').split('\r')[0];
        const label = first.slice(0, 40);
        if (!outcome.ok)
            report.failed++;
        report.answers.push(`${label}: ${outcome.ok ? 'accepted (every frame ACKed, EOT sent)' : `failed: ${outcome.reason}`}`);
    }
    link.close();
    return report;
}
export async function replay(options) {
    parseTarget(options.to);
    const protocol = options.protocol ?? detectProtocol(options.bytes);
    const items = protocol === 'mllp' ? mllpMessages(options.bytes) : astmTransmissions(options.bytes);
    if (items.length === 0)
        throw new ReplayError(`no complete ${protocol === 'mllp' ? 'MLLP message' : 'ASTM transmission (ENQ … EOT)'} in the file`);
    const socket = await open(options.to);
    try {
        return protocol === 'mllp' ? await replayMllp(socket, items, options.timeoutMs ?? 30_000) : await replayAstm(socket, items, options.frameSize ?? 247);
    }
    finally {
        socket.end();
        socket.destroy();
    }
}
export const REPLAY_USAGE = 'usage: edge-agent replay FILE --to tcp://HOST:PORT [--astm|--mllp] [--frame-size 247] [--timeout-ms 30000]\n';
/** The CLI command: prints one line per message and exits 1 when any was not accepted. */
export async function runReplay(argv) {
    let values, positionals;
    try {
        ({ values, positionals } = parseArgs({
            args: argv,
            allowPositionals: true,
            options: { to: { type: 'string' }, astm: { type: 'boolean' }, mllp: { type: 'boolean' }, 'frame-size': { type: 'string' }, 'timeout-ms': { type: 'string' } },
        }));
    }
    catch (err) {
        process.stderr.write(`${err.message}\n${REPLAY_USAGE}`);
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
            ...(values.astm ? { protocol: 'astm' } : values.mllp ? { protocol: 'mllp' } : {}),
            ...(values['frame-size'] ? { frameSize: Number(values['frame-size']) } : {}),
            ...(values['timeout-ms'] ? { timeoutMs: Number(values['timeout-ms']) } : {}),
        });
        for (const line of report.answers)
            process.stdout.write(`${line}\n`);
        process.stdout.write(`${report.sent} ${report.protocol === 'mllp' ? 'message' : 'transmission'}(s) sent, ${report.failed} not accepted\n`);
        return report.failed > 0 ? 1 : 0;
    }
    catch (err) {
        process.stderr.write(`replay failed: ${err.message}\n`);
        return err instanceof ReplayError ? 2 : 1;
    }
}

import { connect } from 'node:net';
import { encodeText } from "../lab/encoding.js";
import { MllpDecoder, mllpFrame } from "./mllp.js";
import { comp, parseHl7, segment } from "./message.js";
import { buildOru, reportOf } from "./oru.js";
/** MSH-10 from the idempotency key: a retry carries the same control id, so the LIS can drop it. */
export function controlIdFor(key) {
    return key.replace(/^(res2?|rep):/, '').replace(/[^A-Za-z0-9]/g, '').slice(0, 20);
}
const STREAM_OF = { order: 'lab.report', result: 'lab.result', passthrough: 'lab.message' };
/** The message an outbox item becomes, and the control id its ACK must carry in MSA-2. */
export function messageFor(item, cfg, nowMs) {
    const format = cfg.format ?? 'order';
    if (item.stream !== STREAM_OF[format])
        return { refused: `a ${format}-format LIS takes ${STREAM_OF[format]} items, not ${item.stream}` };
    const encode = (text) => encodeText(text, 'utf-8', { stripDiacritics: cfg.stripDiacritics === true });
    if (format === 'passthrough') {
        if (!item.raw)
            return { refused: 'the original message is no longer on the box (personal-data retention scrubbed it)' };
        if (!item.kind.includes('^'))
            return { refused: `passthrough forwards HL7 messages only; this is ${item.kind}` };
        const controlId = String(item.meta.controlId ?? '');
        return { text: item.raw, controlId };
    }
    const parsed = item.parsed;
    if (!parsed || typeof parsed !== 'object' || !('specimenId' in parsed))
        return { refused: `not a lab ${format === 'order' ? 'report' : 'result'} (stream ${item.stream})` };
    const controlId = controlIdFor(item.idempotencyKey);
    const report = format === 'order' ? parsed : reportOf(parsed);
    return { text: encode(buildOru(report, controlId, cfg, nowMs)), controlId };
}
/**
 * Results to the LIS as ORU^R01 over one kept-open MLLP connection. ACKs are matched by MSA-2,
 * never by position; after an ACK timeout the connection is closed, so a late ACK can never
 * confirm the next message (Mirth issues 1441, 2070). AA/CA → delivered; AE/AR → parked with the
 * LIS's reason; no answer or a broken connection → retried with the same control id.
 */
export class Hl7LisDestination {
    id;
    config;
    log;
    socket = null;
    connecting = null;
    waiting = new Map();
    constructor(id, config, log) {
        this.id = id;
        this.config = config;
        this.log = log;
    }
    async stop() {
        this.drop();
    }
    async deliver(item, signal) {
        const message = messageFor(item, this.config, Date.now());
        if ('refused' in message)
            return { result: 'permanent', reason: message.refused };
        const { controlId } = message;
        let socket;
        try {
            socket = await this.connection();
        }
        catch (err) {
            return { result: 'retry', reason: `LIS ${this.config.host}:${this.config.port}: ${err.code ?? err.message}` };
        }
        const timeoutMs = (this.config.ackTimeoutSeconds ?? 30) * 1000;
        return new Promise((resolve) => {
            const finish = (outcome) => {
                clearTimeout(timer);
                signal.removeEventListener('abort', onAbort);
                this.waiting.delete(controlId);
                resolve(outcome);
            };
            const timer = setTimeout(() => {
                // Unknown outcome: close so this ACK, if it ever comes, cannot be taken for another message's.
                this.drop();
                finish({ result: 'retry', reason: `no ACK from the LIS within ${timeoutMs / 1000} s; connection closed` });
            }, timeoutMs);
            const onAbort = () => finish({ result: 'retry', reason: 'aborted' });
            signal.addEventListener('abort', onAbort, { once: true });
            this.waiting.set(controlId, (ack) => {
                if (ack.code === 'AA' || ack.code === 'CA')
                    finish({ result: 'ok', detail: `ACK ${ack.code}` });
                else if (ack.code === 'CLOSED')
                    finish({ result: 'retry', reason: ack.text });
                else
                    finish({ result: 'permanent', reason: `LIS answered ${ack.code}${ack.text ? `: ${ack.text}` : ''}` });
            });
            socket.write(mllpFrame(message.text));
        });
    }
    connection() {
        if (this.socket && !this.socket.destroyed)
            return Promise.resolve(this.socket);
        this.connecting ??= new Promise((resolve, reject) => {
            const socket = connect({ host: this.config.host, port: this.config.port });
            socket.setNoDelay(true);
            socket.setKeepAlive(true, 30_000);
            const timer = setTimeout(() => socket.destroy(new Error('connect timeout')), (this.config.connectTimeoutSeconds ?? 10) * 1000);
            const decoder = new MllpDecoder(16 * 1024 * 1024);
            socket.once('connect', () => {
                clearTimeout(timer);
                this.socket = socket;
                this.connecting = null;
                resolve(socket);
            });
            socket.on('data', (d) => {
                for (const m of decoder.push(d).messages)
                    this.onAck(m.toString('utf8'));
            });
            socket.once('error', (err) => {
                clearTimeout(timer);
                this.connecting = null;
                reject(err);
            });
            socket.once('close', () => {
                if (this.socket === socket)
                    this.socket = null;
                for (const w of [...this.waiting.values()])
                    w({ code: 'CLOSED', text: 'the LIS closed the connection before answering' });
            });
        });
        return this.connecting;
    }
    onAck(text) {
        try {
            const msg = parseHl7(text);
            const msa = segment(msg, 'MSA');
            const controlId = comp(msg, msa, 2);
            const waiter = this.waiting.get(controlId);
            if (!waiter) {
                this.log.warn({ controlId }, 'ACK for no message in flight (late or foreign); ignored');
                return;
            }
            const err = segment(msg, 'ERR');
            waiter({ code: comp(msg, msa, 1), text: comp(msg, msa, 3) || comp(msg, err, 3, 2) || comp(msg, err, 1, 4) });
        }
        catch (err) {
            this.log.warn({ reason: err.message }, 'unreadable answer from the LIS ignored');
        }
    }
    drop() {
        this.socket?.destroy();
        this.socket = null;
    }
}
export const hl7LisDestinationFactory = {
    type: 'hl7-mllp-lis',
    streams: (config) => [STREAM_OF[config.format ?? 'order']],
    create: (ctx, config) => new Hl7LisDestination(ctx.id, { ...config, ...(ctx.box && !config.timezone ? { timezone: ctx.box.timezone } : {}) }, ctx.log),
};
/** The name the lab brief uses for the same factory (registered under type 'hl7-mllp-lis'). */
export const lisMllpDestinationFactory = hl7LisDestinationFactory;

import { connect } from 'node:net';
import { parseAck } from "./adtA04.js";
/** MLLP block characters (HL7 v2 Appendix C): <VT> message <FS><CR>. */
export const MLLP_START = 0x0b;
export const MLLP_END = 0x1c;
export const MLLP_CR = 0x0d;
export function mllpFrame(message) {
    return Buffer.concat([Buffer.from([MLLP_START]), Buffer.from(message, 'utf8'), Buffer.from([MLLP_END, MLLP_CR])]);
}
/** Collects MLLP frames out of a byte stream; bytes outside a frame are dropped. Bounded by maxBytes. */
export class MllpDecoder {
    maxBytes;
    buf = Buffer.alloc(0);
    constructor(maxBytes = 4 * 1024 * 1024) {
        this.maxBytes = maxBytes;
    }
    push(chunk) {
        this.buf = Buffer.concat([this.buf, chunk]);
        const frames = [];
        for (;;) {
            const start = this.buf.indexOf(MLLP_START);
            if (start < 0) {
                this.buf = Buffer.alloc(0);
                break;
            }
            let end = this.buf.indexOf(MLLP_END, start + 1);
            while (end >= 0 && end + 1 < this.buf.length && this.buf[end + 1] !== MLLP_CR)
                end = this.buf.indexOf(MLLP_END, end + 1);
            if (end < 0 || end + 1 >= this.buf.length) {
                this.buf = this.buf.subarray(start);
                if (this.buf.length > this.maxBytes)
                    this.buf = Buffer.alloc(0);
                break;
            }
            // A start byte inside an unfinished frame means the sender began again: keep the last one.
            const realStart = this.buf.lastIndexOf(MLLP_START, end);
            frames.push(this.buf.subarray(realStart + 1, end));
            this.buf = this.buf.subarray(end + 2);
        }
        return frames;
    }
}
export class MllpError extends Error {
    code;
    constructor(code, message) {
        super(message);
        this.code = code;
    }
}
/**
 * A minimal MLLP sender: one connection, one message in flight, waits for the ACK whose MSA-2
 * matches the message's control id (ACKs for other ids, e.g. a late answer to an earlier
 * message, are ignored). After an ACK timeout the connection is closed, so a late ACK can never
 * be taken for the next message's.
 */
export class MllpClient {
    options;
    socket = null;
    chain = Promise.resolve();
    decoder = new MllpDecoder();
    waiter = null;
    constructor(options) {
        this.options = options;
    }
    /** Sends one framed message and resolves with its matching ACK; calls are serialised. */
    send(message, controlId, signal) {
        const run = this.chain.then(() => this.sendNow(message, controlId, signal));
        this.chain = run.catch(() => undefined);
        return run;
    }
    close() {
        this.socket?.destroy();
        this.socket = null;
    }
    connectSocket() {
        if (this.socket && !this.socket.destroyed)
            return Promise.resolve(this.socket);
        return new Promise((resolve, reject) => {
            const s = connect({ host: this.options.host, port: this.options.port });
            this.decoder = new MllpDecoder();
            s.setNoDelay(true);
            const timer = setTimeout(() => {
                s.destroy();
                reject(new MllpError('MLLP_CONNECT', `${this.options.host}:${this.options.port}: connect timeout`));
            }, this.options.connectTimeoutMs ?? 5_000);
            s.once('connect', () => {
                clearTimeout(timer);
                this.socket = s;
                resolve(s);
            });
            s.on('error', (err) => {
                clearTimeout(timer);
                reject(new MllpError('MLLP_CONNECT', `${this.options.host}:${this.options.port}: ${err.code ?? err.message}`));
                this.failWaiter(s, new MllpError('MLLP_CLOSED', `connection error: ${err.code ?? err.message}`));
            });
            s.on('close', () => {
                if (this.socket === s)
                    this.socket = null;
                this.failWaiter(s, new MllpError('MLLP_CLOSED', 'the HIS closed the connection before acknowledging'));
            });
            const decoder = this.decoder;
            s.on('data', (chunk) => {
                for (const frame of decoder.push(chunk))
                    this.onFrame(s, frame);
            });
        });
    }
    onFrame(socket, frame) {
        if (!this.waiter || this.waiter.socket !== socket)
            return;
        let ack;
        try {
            ack = parseAck(frame.toString('utf8'));
        }
        catch {
            return;
        }
        if (ack.controlId !== this.waiter.controlId)
            return;
        const w = this.waiter;
        this.waiter = null;
        w.resolve(ack);
    }
    /** Fails the waiting send only when it was waiting on this socket (an old socket's late close must not). */
    failWaiter(socket, err) {
        if (this.waiter?.socket !== socket)
            return;
        const w = this.waiter;
        this.waiter = null;
        w?.reject(err);
    }
    async sendNow(message, controlId, signal) {
        if (signal?.aborted)
            throw new MllpError('MLLP_ABORTED', 'aborted before sending');
        const socket = await this.connectSocket();
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
                this.waiter = null;
                this.close();
                reject(new MllpError('MLLP_ACK_TIMEOUT', `no ACK within ${this.options.ackTimeoutMs ?? 10_000} ms; connection closed`));
            }, this.options.ackTimeoutMs ?? 10_000);
            const onAbort = () => {
                clearTimeout(timer);
                this.waiter = null;
                this.close();
                reject(new MllpError('MLLP_ABORTED', 'aborted while waiting for the ACK; connection closed'));
            };
            signal?.addEventListener('abort', onAbort, { once: true });
            this.waiter = {
                socket,
                controlId,
                resolve: (ack) => {
                    clearTimeout(timer);
                    signal?.removeEventListener('abort', onAbort);
                    resolve(ack);
                },
                reject: (err) => {
                    clearTimeout(timer);
                    signal?.removeEventListener('abort', onAbort);
                    reject(err);
                },
            };
            socket.write(mllpFrame(message));
        });
    }
}

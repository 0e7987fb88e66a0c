import { closeSync, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import { connect } from 'node:net';
import { parsePart10Header, readPart10 } from "../data/part10.js";
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from "../data/part10.js";
import { IMPLICIT_VR_LITTLE_ENDIAN } from "../data/transferSyntaxes.js";
import { VERIFICATION_SOP_CLASS } from "../data/sopClasses.js";
import { PC_ACCEPTED, decodeAssociateAc, encodeAssociateRq } from "./associate.js";
import { C_CANCEL_RQ, C_ECHO_RQ, C_FIND_RQ, C_STORE_RQ, decodeCommand, encodeCommand } from "./dimse.js";
import { PDU_ABORT, PDU_ASSOCIATE_AC, PDU_ASSOCIATE_RJ, PDU_DATA_TF, PDU_RELEASE_RP, PDU_RELEASE_RQ, PduReader, describeReject, encodeAbort, encodeDataPdu, encodeReleaseRp, encodeReleaseRq } from "./pdu.js";
/** Association-level failures: the item was not refused, try again later. */
export class DicomAssociationError extends Error {
    code;
    permanent;
    constructor(message, code, 
    /** A rejection marked permanent by the peer (A-ASSOCIATE-RJ result 1). */
    permanent = false) {
        super(message);
        this.code = code;
        this.permanent = permanent;
        this.name = 'DicomAssociationError';
    }
}
/** Bytes allowed to wait in the socket before sending waits for 'drain'. */
const SEND_BUFFER = 1024 * 1024;
export class ScuAssociation {
    socket;
    options;
    reader;
    accepted = new Map();
    waiter = null;
    parts = { command: [], dataset: [], cmd: null };
    messageId = 0;
    maxSend = 16384;
    closedError = null;
    releaseWaiter = null;
    busy = false;
    /** Called once the association is over (released, aborted, closed). */
    onClose = null;
    /**
     * Requests the peer sends us on this association (an N-EVENT-REPORT after an N-ACTION,
     * PS3.4 J.3.3): answered with the command this returns. Without a handler they get
     * "unrecognized operation".
     */
    onRequest = null;
    incomingContext = 0;
    constructor(socket, options) {
        this.socket = socket;
        this.options = options;
        this.reader = new PduReader({ maxDataLength: (options.maxPduLength ?? 1024 * 1024) + 64 });
    }
    static async open(options) {
        const contexts = (options.contexts ?? [{ abstractSyntax: VERIFICATION_SOP_CLASS, transferSyntaxes: [IMPLICIT_VR_LITTLE_ENDIAN] }]).map((c, i) => ({
            id: 2 * i + 1,
            abstractSyntax: c.abstractSyntax,
            transferSyntaxes: c.transferSyntaxes,
        }));
        if (contexts.length > 128)
            throw new Error('at most 128 presentation contexts per association');
        const socket = connect({ host: options.host, port: options.port, noDelay: true, ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
        socket.setNoDelay(true);
        const assoc = new ScuAssociation(socket, options);
        const timeoutMs = options.connectTimeoutMs ?? 15_000;
        await new Promise((resolve, reject) => {
            let settled = false;
            const finish = (err) => {
                if (settled)
                    return;
                settled = true;
                clearTimeout(timer);
                options.signal?.removeEventListener('abort', onAbort);
                if (err) {
                    socket.destroy();
                    reject(err);
                }
                else
                    resolve();
            };
            const timer = setTimeout(() => finish(new DicomAssociationError(`no association with ${options.calledAe} at ${options.host}:${options.port} within ${timeoutMs} ms`, 'timeout')), timeoutMs);
            const onAbort = () => finish(new DicomAssociationError('cancelled', 'aborted'));
            options.signal?.addEventListener('abort', onAbort, { once: true });
            socket.once('connect', () => socket.write(encodeAssociateRq({ calledAe: options.calledAe, callingAe: options.callingAe, contexts, user: { maxPduLength: options.maxPduLength ?? 1024 * 1024, implementationClassUid: IMPLEMENTATION_CLASS_UID, implementationVersionName: IMPLEMENTATION_VERSION_NAME } })));
            socket.on('error', (err) => {
                if (!settled)
                    finish(new DicomAssociationError(`cannot reach ${options.host}:${options.port}: ${err.message}`, 'closed'));
                assoc.close(new DicomAssociationError(`connection error: ${err.message}`, 'closed'));
            });
            socket.on('close', () => {
                if (!settled)
                    finish(new DicomAssociationError(`connection to ${options.host}:${options.port} closed during association`, 'closed'));
                assoc.close(new DicomAssociationError('connection closed', 'closed'));
            });
            socket.on('data', (chunk) => {
                let pdus;
                try {
                    pdus = assoc.reader.feed(chunk);
                }
                catch (err) {
                    assoc.abort(`bad PDU: ${err.message}`);
                    if (!settled)
                        finish(new DicomAssociationError(`bad PDU: ${err.message}`, 'protocol'));
                    return;
                }
                for (const pdu of pdus) {
                    if (!settled) {
                        if (pdu.type === PDU_ASSOCIATE_AC) {
                            const ac = decodeAssociateAc(pdu.body);
                            for (const pc of ac.contexts) {
                                const proposed = contexts.find((c) => c.id === pc.id);
                                if (proposed && pc.result === PC_ACCEPTED && pc.transferSyntax && proposed.transferSyntaxes.includes(pc.transferSyntax))
                                    assoc.accepted.set(pc.id, { ...pc, abstractSyntax: proposed.abstractSyntax });
                            }
                            assoc.maxSend = ac.user.maxPduLength === 0 ? 1024 * 1024 : Math.max(ac.user.maxPduLength, 64);
                            finish();
                        }
                        else if (pdu.type === PDU_ASSOCIATE_RJ) {
                            finish(new DicomAssociationError(describeReject(pdu.result, pdu.source, pdu.reason), 'rejected', pdu.result === 1));
                        }
                        else if (pdu.type === PDU_ABORT) {
                            finish(new DicomAssociationError(`peer aborted the association request (source ${pdu.source}, reason ${pdu.reason})`, 'aborted'));
                        }
                        else {
                            assoc.abort('unexpected PDU before A-ASSOCIATE-AC');
                            finish(new DicomAssociationError(`unexpected PDU type ${pdu.type} before A-ASSOCIATE-AC`, 'protocol'));
                        }
                        continue;
                    }
                    assoc.onPdu(pdu);
                }
            });
        });
        return assoc;
    }
    get isOpen() {
        return this.closedError === null;
    }
    get isBusy() {
        return this.busy;
    }
    /** The accepted presentation context id for this abstract syntax (and exact transfer syntax, when given). */
    contextFor(abstractSyntax, transferSyntax) {
        for (const pc of this.accepted.values())
            if (pc.abstractSyntax === abstractSyntax && (!transferSyntax || pc.transferSyntax === transferSyntax))
                return pc.id;
        return undefined;
    }
    transferSyntaxOf(contextId) {
        return this.accepted.get(contextId)?.transferSyntax;
    }
    onPdu(pdu) {
        switch (pdu.type) {
            case PDU_DATA_TF:
                for (const pdv of pdu.pdvs) {
                    if (pdv.command) {
                        this.incomingContext = pdv.contextId;
                        this.parts.command.push(pdv.data);
                        if (pdv.last) {
                            const cmd = decodeCommand(Buffer.concat(this.parts.command));
                            this.parts.command = [];
                            if (cmd.hasDataset)
                                this.parts.cmd = cmd;
                            else
                                this.deliver({ command: cmd, dataset: null });
                        }
                    }
                    else {
                        this.parts.dataset.push(pdv.data);
                        if (pdv.last && this.parts.cmd) {
                            const msg = { command: this.parts.cmd, dataset: Buffer.concat(this.parts.dataset) };
                            this.parts = { command: [], dataset: [], cmd: null };
                            this.deliver(msg);
                        }
                    }
                }
                return;
            case PDU_RELEASE_RP:
                this.releaseWaiter?.();
                return;
            case PDU_RELEASE_RQ:
                // Release collision or a peer-initiated release (the SCU side answers, PS3.8 9.2.2).
                this.socket.end(encodeReleaseRp());
                this.close(new DicomAssociationError('peer released the association', 'closed'));
                return;
            case PDU_ABORT:
                this.close(new DicomAssociationError(`peer aborted the association (source ${pdu.source}, reason ${pdu.reason})`, 'aborted'));
                this.socket.destroy();
                return;
            default:
                this.abort(`unexpected PDU type ${pdu.type}`);
        }
    }
    deliver(msg) {
        // Bit 15 clear: a request from the peer, not an answer to ours (PS3.7 E.1).
        if ((msg.command.commandField & 0x8000) === 0) {
            void this.answerPeer({ ...msg, contextId: this.incomingContext });
            return;
        }
        if (this.waiter)
            this.waiter.onMessage(msg);
    }
    async answerPeer(msg) {
        let rsp;
        try {
            rsp = this.onRequest
                ? await this.onRequest(msg)
                : { commandField: (msg.command.commandField | 0x8000) & 0xffff, messageIdBeingRespondedTo: msg.command.messageId ?? 0, hasDataset: false, status: 0x0211 };
        }
        catch (err) {
            rsp = { commandField: (msg.command.commandField | 0x8000) & 0xffff, messageIdBeingRespondedTo: msg.command.messageId ?? 0, hasDataset: false, status: 0x0110, errorComment: err.message };
        }
        if (this.closedError)
            return;
        await this.writeFragments(msg.contextId, true, encodeCommand(rsp)).catch(() => undefined);
    }
    close(err) {
        if (this.closedError)
            return;
        this.closedError = err;
        this.waiter?.onError(err);
        this.waiter = null;
        this.releaseWaiter?.();
        const cb = this.onClose;
        this.onClose = null;
        cb?.();
    }
    /** A-ABORT and drop the connection. */
    abort(why = 'aborted by the box') {
        if (!this.closedError && this.socket.writable)
            this.socket.write(encodeAbort(0, 0));
        this.close(new DicomAssociationError(why, 'aborted'));
        this.socket.destroy();
    }
    /** Orderly release; aborts when the peer does not answer in time. */
    async release(timeoutMs = 10_000) {
        if (this.closedError)
            return;
        await new Promise((resolve) => {
            const timer = setTimeout(() => {
                this.abort('no A-RELEASE-RP');
                resolve();
            }, timeoutMs);
            this.releaseWaiter = () => {
                clearTimeout(timer);
                resolve();
            };
            this.socket.write(encodeReleaseRq());
        });
        this.close(new DicomAssociationError('released', 'closed'));
        this.socket.end();
        this.socket.destroySoon?.();
    }
    nextMessageId() {
        this.messageId = (this.messageId % 0xffff) + 1;
        return this.messageId;
    }
    async writeFragments(contextId, isCommand, source) {
        const room = this.maxSend - 6;
        let held = null;
        const emit = async (part, last) => {
            if (this.closedError)
                throw this.closedError;
            const [h, d] = encodeDataPdu(contextId, isCommand, last, part);
            this.socket.cork();
            this.socket.write(h);
            this.socket.write(d);
            this.socket.uncork();
            // Let up to 1 MB queue in the socket (its own high-water mark is 16 KB: one event-loop turn per fragment).
            if (this.socket.writableLength > SEND_BUFFER)
                await this.drain();
        };
        const push = async (chunk) => {
            for (let at = 0; at < chunk.length; at += room) {
                if (held)
                    await emit(held, false);
                held = chunk.subarray(at, Math.min(chunk.length, at + room));
            }
        };
        if (Buffer.isBuffer(source))
            await push(source);
        else
            for await (const chunk of source)
                await push(chunk);
        await emit(held ?? Buffer.alloc(0), true);
    }
    drain() {
        const stallMs = this.options.sendStallTimeoutMs ?? 60_000;
        return new Promise((resolve, reject) => {
            const done = (err) => {
                clearTimeout(timer);
                this.socket.off('drain', onDrain);
                this.socket.off('close', onClose);
                if (err)
                    reject(err);
                else
                    resolve();
            };
            const onDrain = () => done();
            const onClose = () => done(this.closedError ?? new DicomAssociationError('connection closed while sending', 'closed'));
            const timer = setTimeout(() => {
                this.abort(`peer took no data for ${stallMs} ms`);
                done(new DicomAssociationError(`peer took no data for ${stallMs} ms`, 'timeout'));
            }, stallMs);
            this.socket.once('drain', onDrain);
            this.socket.once('close', onClose);
        });
    }
    /**
     * Sends one request and collects responses until a final (non-pending) one. `onPending`
     * receives C-FIND pending answers.
     */
    async request(contextId, cmd, dataset, onPending, signal) {
        if (this.closedError)
            throw this.closedError;
        if (this.busy)
            throw new Error('one request at a time per association');
        this.busy = true;
        const responseMs = this.options.responseTimeoutMs ?? 60_000;
        let timer = null;
        let onAbort = null;
        try {
            const answer = new Promise((resolve, reject) => {
                this.waiter = {
                    onMessage: (msg) => {
                        const s = msg.command.status ?? 0;
                        if (s === 0xff00 || s === 0xff01) {
                            onPending?.(msg);
                            // Each pending answer shows the peer is alive.
                            if (timer)
                                timer.refresh();
                            return;
                        }
                        resolve(msg);
                    },
                    onError: reject,
                };
            });
            answer.catch(() => undefined);
            await this.writeFragments(contextId, true, encodeCommand(cmd));
            if (dataset)
                await this.writeFragments(contextId, false, dataset);
            const timeout = new Promise((_, reject) => {
                timer = setTimeout(() => {
                    this.abort(`no response within ${responseMs} ms`);
                    reject(new DicomAssociationError(`no response within ${responseMs} ms`, 'timeout'));
                }, responseMs);
            });
            timeout.catch(() => undefined);
            const cancelled = new Promise((_, reject) => {
                if (!signal)
                    return;
                onAbort = () => {
                    this.abort('cancelled');
                    reject(new DicomAssociationError('cancelled', 'aborted'));
                };
                if (signal.aborted)
                    onAbort();
                else
                    signal.addEventListener('abort', onAbort, { once: true });
            });
            cancelled.catch(() => undefined);
            return await Promise.race([answer, timeout, cancelled]);
        }
        finally {
            if (timer)
                clearTimeout(timer);
            if (onAbort && signal)
                signal.removeEventListener('abort', onAbort);
            this.waiter = null;
            this.busy = false;
        }
    }
    async echo(signal) {
        const pc = this.contextFor(VERIFICATION_SOP_CLASS);
        if (pc === undefined)
            throw new DicomAssociationError('peer did not accept the Verification SOP class', 'no-context', true);
        const r = await this.request(pc, { commandField: C_ECHO_RQ, messageId: this.nextMessageId(), affectedSopClassUid: VERIFICATION_SOP_CLASS, hasDataset: false }, null, undefined, signal);
        return r.command.status ?? 0;
    }
    /** C-STORE of dataset bytes as given, on the context accepted for exactly this SOP class and transfer syntax. */
    async store(input, signal) {
        const pc = this.contextFor(input.sopClassUid, input.transferSyntaxUid);
        if (pc === undefined)
            throw new DicomAssociationError(`peer did not accept ${input.sopClassUid} in ${input.transferSyntaxUid}`, 'no-context', true);
        const cmd = {
            commandField: C_STORE_RQ,
            messageId: this.nextMessageId(),
            affectedSopClassUid: input.sopClassUid,
            affectedSopInstanceUid: input.sopInstanceUid,
            priority: input.priority ?? 0,
            hasDataset: true,
        };
        const r = await this.request(pc, cmd, input.dataset, undefined, signal);
        const out = { status: r.command.status ?? 0 };
        if (r.command.errorComment)
            out.errorComment = r.command.errorComment;
        return out;
    }
    /**
     * A DIMSE-N request (N-ACTION for storage commitment) on the context accepted for
     * `abstractSyntax`; the command gets the next message id. Resolves with the response.
     */
    async nRequest(abstractSyntax, build, dataset, signal) {
        const pc = this.contextFor(abstractSyntax);
        if (pc === undefined)
            throw new DicomAssociationError(`peer did not accept ${abstractSyntax}`, 'no-context', true);
        return this.request(pc, build(this.nextMessageId()), dataset, undefined, signal);
    }
    /** C-FIND: answers (identifiers, in the context's transfer syntax) go to onAnswer; resolves with the final status. */
    async find(sopClassUid, identifier, onAnswer, signal) {
        const pc = this.contextFor(sopClassUid);
        if (pc === undefined)
            throw new DicomAssociationError(`peer did not accept ${sopClassUid}`, 'no-context', true);
        const messageId = this.nextMessageId();
        const r = await this.request(pc, { commandField: C_FIND_RQ, messageId, affectedSopClassUid: sopClassUid, priority: 0, hasDataset: true }, identifier, (msg) => msg.dataset && onAnswer(msg.dataset), signal);
        return r.command.status ?? 0;
    }
    /** C-CANCEL for the C-FIND in progress (PS3.7 9.3.2.3). */
    cancelFind(sopClassUid) {
        const pc = this.contextFor(sopClassUid);
        if (pc === undefined || this.closedError)
            return;
        for (const b of encodeDataPdu(pc, true, true, encodeCommand({ commandField: C_CANCEL_RQ, messageIdBeingRespondedTo: this.messageId, hasDataset: false })))
            this.socket.write(b);
    }
}
/**
 * Files up to this size are read whole and synchronously: a just-received instance is in the page
 * cache, so the read takes tens of microseconds, while each thread-pool hop of an async
 * stat/open/read/close costs about 0.1 ms here (0.5 ms per instance, 20 % of a send into Orthanc).
 */
const READ_WHOLE = 1024 * 1024;
export async function describeFile(path, knownSize) {
    let size;
    let bytes;
    const fd = openSync(path, 'r');
    try {
        size = knownSize ?? fstatSync(fd).size;
        if (size <= READ_WHOLE) {
            bytes = Buffer.allocUnsafe(size);
            let at = 0;
            while (at < size) {
                const n = readSync(fd, bytes, at, size - at, at);
                if (n === 0)
                    throw new Error(`file shrank while being read (${at} of ${size} bytes)`);
                at += n;
            }
        }
    }
    finally {
        closeSync(fd);
    }
    const meta = bytes ? parsePart10Header(bytes) : await readPart10(path);
    if (!meta.sopClassUid || !meta.sopInstanceUid)
        throw new Error('Part 10 file without (0002,0002)/(0002,0003)');
    const file = { path, sopClassUid: meta.sopClassUid, sopInstanceUid: meta.sopInstanceUid, transferSyntaxUid: meta.transferSyntaxUid, datasetOffset: meta.datasetOffset, size };
    if (bytes)
        file.bytes = bytes;
    return file;
}
/** The dataset bytes of a stored file, unchanged: from memory for small files, else read in 1 MB chunks. */
export function datasetStream(file) {
    if (file.bytes)
        return file.bytes.subarray(file.datasetOffset);
    return createReadStream(file.path, { start: file.datasetOffset, end: file.size - 1, highWaterMark: 1024 * 1024 });
}
/** One C-ECHO on a fresh association, released afterwards. */
export async function echo(options) {
    const assoc = await ScuAssociation.open({ ...options, contexts: [{ abstractSyntax: VERIFICATION_SOP_CLASS, transferSyntaxes: [IMPLICIT_VR_LITTLE_ENDIAN] }] });
    try {
        const status = await assoc.echo(options.signal);
        if (status !== 0)
            throw new Error(`C-ECHO answered status ${status.toString(16)}`);
    }
    finally {
        await assoc.release();
    }
}

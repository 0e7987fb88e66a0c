import { CoercionError, coercePart10, coercionContextFrom } from "../data/coerce.js";
import { IMPLICIT_VR_LITTLE_ENDIAN } from "../data/transferSyntaxes.js";
import { VERIFICATION_SOP_CLASS } from "../data/sopClasses.js";
import { hex4, statusKind } from "./dimse.js";
import { DicomAssociationError, ScuAssociation, datasetStream, describeFile } from "./scu.js";
/** At most 128 contexts per association (PS3.8 9.3.2.2); keep room for Verification. */
const MAX_PAIRS = 120;
export class CStoreDestination {
    id;
    config;
    log;
    coercion;
    pool = new Set();
    opening = 0;
    waiters = [];
    /** (SOP class, transfer syntax) pairs seen, proposed together on every new association. */
    pairs = new Map();
    stopped = false;
    constructor(id, config, log, 
    /** Order look-up for coercion rules with fromOrder (the order cache). */
    coercion = {}) {
        this.id = id;
        this.config = config;
        this.log = log;
        this.coercion = coercion;
    }
    get max() {
        return Math.max(1, this.config.associations ?? 4);
    }
    async stop() {
        this.stopped = true;
        await Promise.all([...this.pool].map(async (p) => {
            if (p.idleTimer)
                clearTimeout(p.idleTimer);
            if (p.busy)
                p.assoc.abort('destination stopping');
            else
                await p.assoc.release(2000);
        }));
        this.pool.clear();
        for (const w of this.waiters.splice(0))
            w();
    }
    async deliver(item, signal) {
        if (!item.blobPath)
            return { result: 'permanent', reason: 'journal entry has no instance file to send' };
        let file;
        try {
            file = await describeFile(item.blobPath, item.blob?.size);
        }
        catch (err) {
            const code = err.code;
            if (code === 'ENOENT' || code === 'EIO' || code === 'EMFILE')
                return { result: 'retry', reason: `instance file unreadable: ${err.message}` };
            return { result: 'permanent', reason: `stored instance is not a Part 10 file: ${err.message}` };
        }
        let dataset = () => datasetStream(file);
        if (this.config.coerce?.length) {
            try {
                const coerced = await coercePart10(file.path, this.config.coerce, this.coercion, file.size);
                dataset = () => skip(coerced.stream(), file.datasetOffset);
            }
            catch (err) {
                if (err instanceof CoercionError)
                    return { result: 'permanent', reason: `coercion rules cannot apply: ${err.message}` };
                return { result: 'retry', reason: `coercion failed: ${err.message}` };
            }
        }
        let lease;
        try {
            lease = await this.acquire(file, signal);
        }
        catch (err) {
            if (err instanceof DicomAssociationError && err.code === 'no-context')
                return { result: 'permanent', reason: err.message };
            return { result: 'retry', reason: `no association with ${this.config.calledAe}: ${err.message}` };
        }
        try {
            const r = await lease.assoc.store({ sopClassUid: file.sopClassUid, sopInstanceUid: file.sopInstanceUid, transferSyntaxUid: file.transferSyntaxUid, dataset: dataset() }, signal);
            const kind = statusKind(r.status);
            const comment = r.errorComment ? `: ${r.errorComment}` : '';
            if (kind === 'success')
                return { result: 'ok', detail: 'C-STORE success' };
            if (kind === 'warning')
                return { result: 'ok', detail: `C-STORE warning ${hex4(r.status)}${comment}` };
            this.log.warn({ outboxId: item.outboxId, status: hex4(r.status), comment: r.errorComment }, 'PACS refused the instance');
            return { result: 'permanent', reason: `C-STORE failure ${hex4(r.status)}${comment}` };
        }
        catch (err) {
            return { result: 'retry', reason: `C-STORE did not complete: ${err.message}` };
        }
        finally {
            this.releaseLease(lease);
        }
    }
    async acquire(file, signal) {
        const key = `${file.sopClassUid}|${file.transferSyntaxUid}`;
        if (!this.pairs.has(key)) {
            this.pairs.set(key, { sopClassUid: file.sopClassUid, transferSyntaxUid: file.transferSyntaxUid });
            if (this.pairs.size > MAX_PAIRS)
                this.pairs.delete(this.pairs.keys().next().value);
        }
        for (;;) {
            if (this.stopped)
                throw new Error('destination stopped');
            if (signal.aborted)
                throw new Error('cancelled');
            let idleLacking = null;
            for (const p of this.pool) {
                if (p.busy)
                    continue;
                if (!p.assoc.isOpen) {
                    this.drop(p);
                    continue;
                }
                if (p.assoc.contextFor(file.sopClassUid, file.transferSyntaxUid) !== undefined)
                    return this.take(p);
                idleLacking ??= p;
            }
            if (this.pool.size + this.opening >= this.max && idleLacking) {
                // Make room: an idle association negotiated without this pair is replaced.
                this.drop(idleLacking);
                void idleLacking.assoc.release(2000);
            }
            if (this.pool.size + this.opening < this.max) {
                this.opening++;
                let assoc;
                try {
                    assoc = await this.open(signal);
                }
                finally {
                    this.opening--;
                }
                const p = { assoc, busy: false, idleTimer: null };
                this.pool.add(p);
                assoc.onClose = () => this.drop(p);
                if (assoc.contextFor(file.sopClassUid, file.transferSyntaxUid) === undefined) {
                    this.wake();
                    throw new DicomAssociationError(`${this.config.calledAe} does not accept SOP class ${file.sopClassUid} in transfer syntax ${file.transferSyntaxUid}`, 'no-context', true);
                }
                return this.take(p);
            }
            await new Promise((resolve) => {
                this.waiters.push(resolve);
                signal.addEventListener('abort', () => resolve(), { once: true });
            });
        }
    }
    open(signal) {
        const contexts = [...this.pairs.values()].map((p) => ({ abstractSyntax: p.sopClassUid, transferSyntaxes: [p.transferSyntaxUid] }));
        contexts.push({ abstractSyntax: VERIFICATION_SOP_CLASS, transferSyntaxes: [IMPLICIT_VR_LITTLE_ENDIAN] });
        return ScuAssociation.open({
            host: this.config.host,
            port: this.config.port,
            calledAe: this.config.calledAe,
            callingAe: this.config.callingAe ?? 'EDGE',
            contexts,
            maxPduLength: this.config.maxPduLength ?? 1024 * 1024,
            connectTimeoutMs: this.config.connectTimeoutMs ?? 15_000,
            responseTimeoutMs: this.config.responseTimeoutMs ?? 120_000,
            signal,
        });
    }
    take(p) {
        p.busy = true;
        if (p.idleTimer)
            clearTimeout(p.idleTimer);
        p.idleTimer = null;
        return p;
    }
    releaseLease(p) {
        p.busy = false;
        if (!p.assoc.isOpen || this.stopped)
            this.drop(p);
        else {
            const idleMs = this.config.idleReleaseMs ?? 30_000;
            p.idleTimer = setTimeout(() => {
                if (p.busy)
                    return;
                this.drop(p);
                void p.assoc.release(2000);
            }, idleMs);
            p.idleTimer.unref();
        }
        this.wake();
    }
    drop(p) {
        if (p.idleTimer)
            clearTimeout(p.idleTimer);
        p.idleTimer = null;
        if (this.pool.delete(p))
            this.wake();
    }
    wake() {
        const w = this.waiters.shift();
        w?.();
    }
    /** For the console: C-ECHO on a fresh association. */
    async selfTest(signal) {
        try {
            const a = await ScuAssociation.open({ host: this.config.host, port: this.config.port, calledAe: this.config.calledAe, callingAe: this.config.callingAe ?? 'EDGE', signal, connectTimeoutMs: 10_000 });
            const status = await a.echo(signal);
            await a.release();
            return status === 0 ? { ok: true, detail: `C-ECHO to ${this.config.calledAe} succeeded` } : { ok: false, detail: `C-ECHO answered ${hex4(status)}` };
        }
        catch (err) {
            return { ok: false, detail: `C-ECHO to ${this.config.calledAe} failed: ${err.message}` };
        }
    }
}
/** Drops the first `n` bytes of a stream (the Part 10 header of a coerced copy). */
async function* skip(source, n) {
    let left = n;
    for await (const chunk of source) {
        if (left >= chunk.length) {
            left -= chunk.length;
            continue;
        }
        yield left > 0 ? chunk.subarray(left) : chunk;
        left = 0;
    }
}
export const dicomCStoreDestinationFactory = {
    type: 'dicom-cstore',
    create: (ctx, config) => new CStoreDestination(ctx.id, config, ctx.log, coercionContextFrom(ctx.services)),
};

import { readFileSync } from 'node:fs';
import { maskCccd } from "../../agent/mask.js";
import { PcscCardWatcher } from "./reader.js";
import { readCccd } from "./emrtd.js";
import { CardError, plainMessages } from "./errors.js";
import { keysFromIdentity, keysFromMrzText, keysFromDigits } from "./identity.js";
import { parseCccdQr } from "./qr.js";
import { identityFromQr, identityFromTypedId } from "./identity.js";
import { loadCertificates } from "./sod.js";
/**
 * The kiosk's chip reader: waits for a card, opens it with the most recent key material
 * (QR scan, typed number), reads it, publishes the identity on the bus. Identities stay in
 * memory; logs carry only masked numbers and counts.
 */
export class CccdReaderDriver {
    ctx;
    config;
    watcher;
    keys = null;
    pending = null;
    busy = false;
    state = { state: 'starting', since: new Date().toISOString() };
    counters = { reads: 0, failures: 0, apdus: 0 };
    cscas = [];
    constructor(ctx, config) {
        this.ctx = ctx;
        this.config = config;
        this.watcher = new PcscCardWatcher({ readerName: config.readerName ?? '', allowVirtualReader: config.allowVirtualReader ?? false });
    }
    set(state, detail, error) {
        this.state = { state, detail, since: new Date().toISOString(), counters: { ...this.counters } };
        this.ctx.setStatus(state, detail, error);
    }
    publish(body) {
        this.ctx.bus.emit('domain.event', { visibility: 'local', topic: 'card/status', body });
    }
    async start() {
        if (this.config.cscaFile)
            this.cscas = loadCertificates(readFileSync(this.config.cscaFile, 'utf8'));
        this.ctx.bus.on(`cccd-reader:${this.ctx.id}`, 'domain.event', (e) => this.onDomainEvent(e.topic, e.body));
        this.ctx.services.provide(`cccd-reader:${this.ctx.id}`, { offerKeys: (k) => this.offerKeys(k) });
        const w = this.watcher;
        w.on('reader-added', (name) => {
            this.set('running', `reader "${name}" ready`);
            this.publish({ state: 'ready', message: 'Tap the card on the reader.', reader: name });
        });
        w.on('reader-removed', (name) => {
            if (w.readerNames.length === 0) {
                this.set('degraded', `reader "${name}" unplugged; no reader`);
                this.publish({ state: 'no-reader', message: plainMessages.CARD_READER_MISSING, code: 'CARD_READER_MISSING' });
            }
        });
        w.on('service-down', (message) => {
            this.set('degraded', `pcscd not reachable (${message}); retrying`);
            this.publish({ state: 'service-down', message: plainMessages.CARD_SERVICE_DOWN, code: 'CARD_SERVICE_DOWN' });
        });
        w.on('service-up', () => this.set(w.readerNames.length ? 'running' : 'degraded', w.readerNames.length ? `readers: ${w.readerNames.join(', ')}` : 'pcscd up, no reader'));
        w.on('card', (card) => void this.onCard(card));
        w.on('card-removed', (reader) => {
            if (this.pending?.reader === reader)
                this.pending = null;
        });
        w.on('error', (err) => this.ctx.log.warn({ code: err.code }, 'card reader error'));
        w.start();
        this.set('degraded', 'waiting for a card reader');
    }
    onDomainEvent(topic, body) {
        try {
            if (topic === 'card/identity') {
                const id = body.identity;
                if (id && (id.source === 'qr' || id.source === 'typed'))
                    this.offerKeys(keysFromIdentity(id));
            }
            else if (topic === 'card/key') {
                const k = body;
                if (k.qr) {
                    const qr = parseCccdQr(k.qr);
                    this.ctx.bus.emit('domain.event', { visibility: 'local', topic: 'card/identity', body: { identity: identityFromQr(qr) } });
                }
                else if (k.mrz)
                    this.offerKeys(keysFromMrzText(k.mrz));
                else if (k.digits) {
                    const digits = k.digits.replace(/\s/g, '');
                    // A typed 12-digit number is an identity of its own (enough for the insurance look-up).
                    if (/^\d{12}$/.test(digits))
                        this.ctx.bus.emit('domain.event', { visibility: 'local', topic: 'card/identity', body: { identity: identityFromTypedId(digits) } });
                    else
                        this.offerKeys(keysFromDigits(digits));
                }
            }
        }
        catch (err) {
            const e = err instanceof CardError ? err : new CardError('CARD_PARSE', 'key material not understood');
            this.publish({ state: 'error', message: e.message, code: e.code });
        }
    }
    offerKeys(keys) {
        if (!keys.can && keys.bac.length === 0)
            return;
        this.keys = { keys, at: Date.now() };
        if (this.pending) {
            const card = this.pending;
            this.pending = null;
            void this.onCard(card);
        }
    }
    currentKeys() {
        if (!this.keys)
            return null;
        if (Date.now() - this.keys.at > (this.config.keyTtlSeconds ?? 120) * 1000) {
            this.keys = null;
            return null;
        }
        return this.keys.keys;
    }
    async onCard(card) {
        const keys = this.currentKeys();
        if (!keys) {
            this.pending = card;
            this.publish({ state: 'need-key', message: plainMessages.CARD_NO_KEY, code: 'CARD_NO_KEY', reader: card.reader });
            return;
        }
        if (this.busy)
            return;
        this.busy = true;
        this.publish({ state: 'reading', message: 'Reading the card, keep it on the reader…', reader: card.reader });
        const t0 = performance.now();
        try {
            const r = await readCccd(card.transport, {
                keys,
                atr: card.atr,
                cscas: this.cscas,
                order: this.config.accessOrder ?? ['pace', 'bac'],
                readDg1: this.config.readDg1 ?? false,
                readDg2: this.config.readDg2 ?? false,
                extendedLength: this.config.extendedLength ?? 'auto',
                ...(this.config.maxExtendedRead ? { maxExtendedRead: this.config.maxExtendedRead } : {}),
                fileAccess: this.config.fileAccess ?? 'fid',
            });
            const ms = Math.round(performance.now() - t0);
            this.counters.reads++;
            this.counters.apdus += r.apduCount;
            this.keys = null; // one key, one card: the next patient scans again
            this.ctx.bus.emit('domain.event', { visibility: 'local', topic: 'card/identity', body: identityEvent(r, card.reader, ms) });
            this.publish({ state: 'done', message: 'Card read. You can take the card.', reader: card.reader });
            this.ctx.log.info({ id: maskCccd(r.identity.idNumber), access: r.access, source: r.identity.source, apdus: r.apduCount, ms }, 'card read');
        }
        catch (err) {
            this.counters.failures++;
            const e = err instanceof CardError ? err : new CardError('CARD_PROTOCOL', 'unexpected error while reading', { cause: err });
            this.publish({ state: 'error', message: plainMessages[e.code], code: e.code, reader: card.reader });
            this.ctx.log.warn({ code: e.code, detail: e.message }, 'card read failed');
        }
        finally {
            this.busy = false;
            await this.watcher.release(card.reader);
        }
    }
    async stop() {
        this.ctx.bus.removeListeners(`cccd-reader:${this.ctx.id}`);
        this.watcher.stop();
        this.keys = null;
        this.pending = null;
        this.set('stopped', 'stopped');
    }
    status() {
        return { ...this.state, counters: { ...this.counters } };
    }
    /**
     * "Read a card": waits for the next card read (a staff member taps a card after scanning its QR
     * or typing its number at the kiosk) and reports it with the number masked.
     */
    selfTest(signal) {
        if (this.state.state !== 'running')
            return Promise.resolve({ ok: false, detail: `reader not ready: ${this.state.detail ?? this.state.state}` });
        const owner = `cccd-reader-test:${this.ctx.id}:${Date.now()}`;
        return new Promise((resolve) => {
            const done = (result) => {
                this.ctx.bus.removeListeners(owner);
                signal.removeEventListener('abort', onAbort);
                resolve(result);
            };
            const onAbort = () => done({ ok: false, detail: 'no card read within the test time: scan the card\'s QR code (or type its number) at the kiosk, then put the card on the reader' });
            signal.addEventListener('abort', onAbort, { once: true });
            this.ctx.bus.on(owner, 'domain.event', (e) => {
                if (e.topic === 'card/identity') {
                    const ev = e.body;
                    if (!ev.identity.source.startsWith('chip'))
                        return;
                    done({ ok: true, detail: `card ${maskCccd(ev.identity.idNumber)} read by ${ev.access ?? '?'} in ${ev.ms ?? '?'} ms (${ev.apduCount ?? '?'} APDUs), signature ${ev.verification?.signature ?? 'not checked'}` });
                }
                else if (e.topic === 'card/status') {
                    const st = e.body;
                    if (st.state === 'error' || st.state === 'no-reader' || st.state === 'service-down')
                        done({ ok: false, detail: `${st.code ?? st.state}: ${st.message}` });
                }
            });
        });
    }
}
export function identityEvent(r, reader, ms) {
    const ev = {
        identity: r.identity,
        reader,
        access: r.access,
        verification: { hashes: r.verification.hashes?.ok ? 'ok' : 'not-read', signature: r.verification.signature.status, detail: r.verification.signature.detail },
        apduCount: r.apduCount,
        ms,
    };
    if (r.face)
        ev.face = { mime: r.face.mime, base64: r.face.image.toString('base64') };
    return ev;
}

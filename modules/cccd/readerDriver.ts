import { readFileSync } from 'node:fs';
import type { X509Certificate } from 'node:crypto';
import type { Driver, DriverContext, DriverStatus, DriverState, SelfTestResult } from '../../core/contract/driver.ts';
import { maskCccd } from '../../core/contract/mask.ts';
import { PcscCardWatcher, type CardPresent } from './reader.ts';
import { readCccd, type EmrtdReadResult } from './emrtd.ts';
import { CardError, patientMessages, plainMessages, QR_UNREADABLE_MESSAGE, type CardErrorCode } from './errors.ts';
import { keysFromIdentity, keysFromMrzText, keysFromDigits, type CardKeys, type CccdIdentity } from './identity.ts';
import { parseCccdQr } from './qr.ts';
import { identityFromQr, identityFromTypedId } from './identity.ts';
import { loadCertificates } from './sod.ts';
import { CARD_IDENTITY, CARD_STATUS } from './events.ts';

export interface CccdReaderConfig {
  /** Case-insensitive regex on the PC/SC reader name. */
  readerName?: string;
  allowVirtualReader?: boolean;
  accessOrder?: Array<'pace' | 'bac'>;
  readDg1?: boolean;
  readDg2?: boolean;
  /** PEM file with one or more CSCA certificates for the EF.SOD signature check. */
  cscaFile?: string;
  extendedLength?: 'auto' | boolean;
  maxExtendedRead?: number;
  fileAccess?: 'fid' | 'sfi';
  /** How long a scanned QR / typed number stays usable to open the chip. */
  keyTtlSeconds?: number;
}

/** Body of the bus topic 'card/identity'. */
export interface CardIdentityEvent {
  identity: CccdIdentity;
  reader?: string;
  access?: 'PACE' | 'BAC';
  verification?: { hashes: 'ok' | 'not-read'; signature: string; detail: string };
  apduCount?: number;
  ms?: number;
  face?: { mime: string; base64: string };
}

/** Body of the bus topic 'card/status': what the kiosk shows. */
export interface CardStatusEvent {
  state: 'no-reader' | 'ready' | 'reading' | 'done' | 'need-key' | 'error' | 'service-down';
  /** For staff and the log (English). */
  message: string;
  /** For the patient's screen (Vietnamese); the kiosk shows only this. */
  patientMessage?: string;
  code?: string;
  reader?: string;
}

/** Body of the bus topic 'card/key' (from the kiosk: typed number or MRZ; or a raw QR text). */
export interface CardKeyEvent {
  digits?: string;
  mrz?: string;
  qr?: string;
}

/**
 * The kiosk's chip reader: waits for a card, opens it with the most recent key material
 * (QR scan, typed number), reads it, publishes the identity on the bus. Identities stay in
 * memory; logs carry only masked numbers and counts.
 */
export class CccdReaderDriver implements Driver {
  private readonly watcher: PcscCardWatcher;
  private keys: { keys: CardKeys; at: number } | null = null;
  private pending: CardPresent | null = null;
  private busy = false;
  private state: DriverStatus = { state: 'starting', since: new Date().toISOString() };
  private readonly counters = { reads: 0, failures: 0, apdus: 0 };
  private cscas: X509Certificate[] = [];

  constructor(
    private readonly ctx: DriverContext,
    private readonly config: CccdReaderConfig,
  ) {
    this.watcher = new PcscCardWatcher({ readerName: config.readerName ?? '', allowVirtualReader: config.allowVirtualReader ?? false });
  }

  private set(state: DriverState, detail: string, error?: unknown): void {
    this.state = { state, detail, since: new Date().toISOString(), counters: { ...this.counters } };
    this.ctx.setStatus(state, detail, error);
  }

  private publish(body: CardStatusEvent): void {
    // Every coded status carries the patient's Vietnamese sentence beside the English one.
    const vi = body.patientMessage ?? (body.code && body.code in patientMessages ? patientMessages[body.code as CardErrorCode] : undefined);
    this.ctx.bus.publish(CARD_STATUS, vi ? { ...body, patientMessage: vi } : body);
  }

  async start(): Promise<void> {
    if (this.config.cscaFile) this.cscas = loadCertificates(readFileSync(this.config.cscaFile, 'utf8'));
    this.ctx.bus.on(`cccd-reader:${this.ctx.id}`, 'domain.event', (e) => this.onDomainEvent(e.topic, e.body));
    this.ctx.services.provide(`cccd-reader:${this.ctx.id}`, { offerKeys: (k: CardKeys) => this.offerKeys(k) });
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
    w.on('service-up', () =>
      this.set(w.readerNames.length ? 'running' : 'degraded', w.readerNames.length ? `readers: ${w.readerNames.join(', ')}` : 'pcscd up, no reader'),
    );
    w.on('card', (card) => void this.onCard(card));
    w.on('card-removed', (reader) => {
      if (this.pending?.reader === reader) this.pending = null;
    });
    w.on('error', (err) => this.ctx.log.warn({ code: err.code }, 'card reader error'));
    w.start();
    this.set('degraded', 'waiting for a card reader');
  }

  private onDomainEvent(topic: string, body: unknown): void {
    try {
      if (topic === 'card/identity') {
        const id = (body as CardIdentityEvent).identity;
        if (id && (id.source === 'qr' || id.source === 'typed')) this.offerKeys(keysFromIdentity(id));
      } else if (topic === 'card/key') {
        const k = body as CardKeyEvent;
        if (k.qr) {
          const qr = parseCccdQr(k.qr);
          this.ctx.bus.publish(CARD_IDENTITY, { identity: identityFromQr(qr) });
        } else if (k.mrz) this.offerKeys(keysFromMrzText(k.mrz));
        else if (k.digits) {
          const digits = k.digits.replace(/\s/g, '');
          // A typed 12-digit number is an identity of its own (enough for the insurance look-up).
          if (/^\d{12}$/.test(digits)) this.ctx.bus.publish(CARD_IDENTITY, { identity: identityFromTypedId(digits) });
          else this.offerKeys(keysFromDigits(digits));
        }
      }
    } catch (err) {
      const e = err instanceof CardError ? err : new CardError('CARD_PARSE', 'key material not understood');
      const qr = topic === 'card/key' && Boolean((body as CardKeyEvent).qr);
      this.publish({
        state: 'error',
        message: e.message,
        code: e.code,
        patientMessage: e.patientMessage ?? (qr ? QR_UNREADABLE_MESSAGE : patientMessages[e.code]),
      });
    }
  }

  offerKeys(keys: CardKeys): void {
    if (!keys.can && keys.bac.length === 0) return;
    this.keys = { keys, at: Date.now() };
    if (this.pending) {
      const card = this.pending;
      this.pending = null;
      void this.onCard(card);
    }
  }

  private currentKeys(): CardKeys | null {
    if (!this.keys) return null;
    if (Date.now() - this.keys.at > (this.config.keyTtlSeconds ?? 120) * 1000) {
      this.keys = null;
      return null;
    }
    return this.keys.keys;
  }

  private async onCard(card: CardPresent): Promise<void> {
    const keys = this.currentKeys();
    if (!keys) {
      this.pending = card;
      this.publish({ state: 'need-key', message: plainMessages.CARD_NO_KEY, code: 'CARD_NO_KEY', reader: card.reader });
      return;
    }
    if (this.busy) return;
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
      this.ctx.bus.publish(CARD_IDENTITY, identityEvent(r, card.reader, ms));
      this.publish({ state: 'done', message: 'Card read. You can take the card.', reader: card.reader });
      this.ctx.log.info({ id: maskCccd(r.identity.idNumber), access: r.access, source: r.identity.source, apdus: r.apduCount, ms }, 'card read');
    } catch (err) {
      this.counters.failures++;
      const e = err instanceof CardError ? err : new CardError('CARD_PROTOCOL', 'unexpected error while reading', { cause: err });
      this.publish({ state: 'error', message: plainMessages[e.code], code: e.code, reader: card.reader });
      this.ctx.log.warn({ code: e.code, detail: e.message }, 'card read failed');
    } finally {
      this.busy = false;
      await this.watcher.release(card.reader);
    }
  }

  async stop(): Promise<void> {
    this.ctx.bus.removeListeners(`cccd-reader:${this.ctx.id}`);
    this.watcher.stop();
    this.keys = null;
    this.pending = null;
    this.set('stopped', 'stopped');
  }

  status(): DriverStatus {
    return { ...this.state, counters: { ...this.counters } };
  }

  /**
   * "Read a card": waits for the next card read (a staff member taps a card after scanning its QR
   * or typing its number at the kiosk) and reports it with the number masked.
   */
  selfTest(signal: AbortSignal): Promise<SelfTestResult> {
    if (this.state.state !== 'running') return Promise.resolve({ ok: false, detail: `reader not ready: ${this.state.detail ?? this.state.state}` });
    const owner = `cccd-reader-test:${this.ctx.id}:${Date.now()}`;
    return new Promise((resolve) => {
      const done = (result: SelfTestResult) => {
        this.ctx.bus.removeListeners(owner);
        signal.removeEventListener('abort', onAbort);
        resolve(result);
      };
      const onAbort = () =>
        done({
          ok: false,
          detail: "no card read within the test time: scan the card's QR code (or type its number) at the kiosk, then put the card on the reader",
        });
      signal.addEventListener('abort', onAbort, { once: true });
      this.ctx.bus.on(owner, 'domain.event', (e) => {
        if (e.topic === 'card/identity') {
          const ev = e.body as CardIdentityEvent;
          if (!ev.identity.source.startsWith('chip')) return;
          done({
            ok: true,
            detail: `card ${maskCccd(ev.identity.idNumber)} read by ${ev.access ?? '?'} in ${ev.ms ?? '?'} ms (${ev.apduCount ?? '?'} APDUs), signature ${ev.verification?.signature ?? 'not checked'}`,
          });
        } else if (e.topic === 'card/status') {
          const st = e.body as CardStatusEvent;
          if (st.state === 'error' || st.state === 'no-reader' || st.state === 'service-down')
            done({ ok: false, detail: `${st.code ?? st.state}: ${st.message}` });
        }
      });
    });
  }
}

export function identityEvent(r: EmrtdReadResult, reader: string, ms: number): CardIdentityEvent {
  const ev: CardIdentityEvent = {
    identity: r.identity,
    reader,
    access: r.access,
    verification: {
      hashes: r.verification.hashes?.ok ? 'ok' : 'not-read',
      signature: r.verification.signature.status,
      detail: r.verification.signature.detail,
    },
    apduCount: r.apduCount,
    ms,
  };
  if (r.face) ev.face = { mime: r.face.mime, base64: r.face.image.toString('base64') };
  return ev;
}

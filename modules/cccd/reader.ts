import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { pcscTransport, pcscError } from './pcscTransport.ts';
import type { CardError } from './errors.ts';

type Pcsc = typeof import('pcsclite');
type PcscLite = ReturnType<Pcsc>;
type CardReader = Parameters<Parameters<PcscLite['on']>[1]>[0] extends infer R ? Extract<R, { name: string; connect: unknown }> : never;

export interface ReaderFilter {
  /** Case-insensitive regular expression a reader name must match (empty: any). */
  readerName?: string;
  /** vsmartcard's "Virtual PCD" is refused unless allowed: it listens on the network. */
  allowVirtualReader?: boolean;
}

export interface CardPresent {
  reader: string;
  atr: Buffer;
  transport: ReturnType<typeof pcscTransport>;
}

export interface CardWatcherEvents {
  'reader-added': [name: string];
  'reader-removed': [name: string];
  card: [card: CardPresent];
  'card-removed': [reader: string];
  'service-down': [message: string];
  'service-up': [];
  error: [err: CardError];
}

const VIRTUAL = /virtual pcd/i;
/** Quiet time before closing a reader (see onReader). */
const QUIET_MS = 250;

export function readerAccepted(name: string, f: ReaderFilter): boolean {
  if (!f.allowVirtualReader && VIRTUAL.test(name)) return false;
  if (f.readerName && !new RegExp(f.readerName, 'i').test(name)) return false;
  return true;
}

/**
 * Watches PC/SC readers through npm `pcsclite` (its blocking SCardGetStatusChange runs on a
 * native thread, never on the event loop): readers plugged and unplugged, cards inserted and
 * removed, pcscd absent or restarted (the context is re-established with a backoff).
 */
export class PcscCardWatcher extends EventEmitter<CardWatcherEvents> {
  private pcsc: PcscLite | null = null;
  private readonly readers = new Map<string, CardReader>();
  /** Every reader object pcsclite made (filtered ones too), with whether its status thread runs. */
  private readonly all = new Map<CardReader, { settled: boolean; lastStatusAt: number }>();
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private down = false;
  private backoffMs = 1000;

  constructor(private readonly filter: ReaderFilter = {}) {
    super();
  }

  get readerNames(): string[] {
    return [...this.readers.keys()];
  }

  start(): void {
    this.stopped = false;
    this.open();
  }

  private open(): void {
    if (this.stopped) return;
    let pcsc: PcscLite;
    try {
      const require = createRequire(import.meta.url);
      pcsc = (require('pcsclite') as Pcsc)();
    } catch (err) {
      this.serviceDown(`pcsclite could not start: ${(err as Error).message}`);
      return;
    }
    this.pcsc = pcsc;
    pcsc.on('error', (err: unknown) => {
      if (this.pcsc !== pcsc) return;
      this.serviceDown(`PC/SC: ${err instanceof Error ? err.message : String(err)}`);
    });
    pcsc.on('reader', (reader: CardReader) => this.onReader(reader));
    // No 'error' within a moment means the context was established.
    setTimeout(() => {
      if (this.pcsc === pcsc && this.down) {
        this.down = false;
        this.backoffMs = 1000;
        this.emit('service-up');
      }
    }, 500).unref();
  }

  private serviceDown(message: string): void {
    const pcsc = this.pcsc;
    this.pcsc = null;
    for (const name of this.readers.keys()) this.emit('reader-removed', name);
    this.readers.clear();
    try {
      pcsc?.close();
    } catch {
      /* already closed */
    }
    if (!this.down) this.emit('service-down', message);
    this.down = true;
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.open();
    }, this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, 10_000);
  }

  private onReader(reader: CardReader): void {
    // pcsclite's close() cancels the reader's status thread and joins it ON THE MAIN THREAD. If
    // the thread is between two SCardGetStatusChange calls at that instant (just after an
    // event, or before its first call), the cancel is lost and the join blocks forever. So a
    // reader is closed only once its thread has looped (second status event: the first comes
    // from get_status) and has been quiet for a moment.
    const entry = { settled: false, lastStatusAt: Date.now() };
    this.all.set(reader, entry);
    let statuses = 0;
    reader.on('status', () => {
      entry.lastStatusAt = Date.now();
      if (++statuses >= 2) entry.settled = true;
    });
    reader.on('end', () => this.all.delete(reader));
    // An ignored reader still reports errors (pcscd gone): swallow them.
    if (!readerAccepted(reader.name, this.filter)) {
      reader.on('error', () => undefined);
      return;
    }
    this.readers.set(reader.name, reader);
    this.emit('reader-added', reader.name);
    let state = 0;
    reader.on('error', (err: unknown) => {
      if (!this.stopped) this.emit('error', pcscError(err));
    });
    reader.on('end', () => {
      if (this.readers.get(reader.name) === reader) {
        this.readers.delete(reader.name);
        this.emit('reader-removed', reader.name);
      }
    });
    reader.on('status', (status: { state: number; atr?: Buffer }) => {
      const changes = state ^ status.state;
      state = status.state;
      if (!changes) return;
      if (changes & reader.SCARD_STATE_EMPTY && status.state & reader.SCARD_STATE_EMPTY) {
        this.emit('card-removed', reader.name);
        reader.disconnect(reader.SCARD_LEAVE_CARD, () => undefined);
      } else if (changes & reader.SCARD_STATE_PRESENT && status.state & reader.SCARD_STATE_PRESENT && !(status.state & reader.SCARD_STATE_MUTE)) {
        const atr = status.atr ?? Buffer.alloc(0);
        reader.connect({ share_mode: reader.SCARD_SHARE_SHARED }, (err: unknown, protocol: number) => {
          if (err) {
            this.emit('error', pcscError(err));
            return;
          }
          this.emit('card', { reader: reader.name, atr, transport: pcscTransport(reader, protocol) });
        });
      }
    });
  }

  /** Ends the session with the card (keeps it powered for the next tap). */
  release(readerName: string): Promise<void> {
    const r = this.readers.get(readerName);
    return new Promise((resolve) => (r ? r.disconnect(r.SCARD_LEAVE_CARD, () => resolve()) : resolve()));
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    for (const [r, entry] of this.all) {
      r.removeAllListeners('status');
      let timer: NodeJS.Timeout | null = null;
      const close = (): void => {
        if (!entry.settled || Date.now() - entry.lastStatusAt < QUIET_MS) {
          timer = setTimeout(close, QUIET_MS);
          timer.unref();
          return;
        }
        try {
          r.close();
        } catch {
          /* gone */
        }
      };
      let statuses = 0;
      r.on('status', () => {
        entry.lastStatusAt = Date.now();
        if (++statuses >= 1 && !entry.settled) entry.settled = true;
      });
      r.once('end', () => timer && clearTimeout(timer));
      timer = setTimeout(close, QUIET_MS);
      timer.unref();
    }
    this.all.clear();
    this.readers.clear();
    try {
      this.pcsc?.close();
    } catch {
      /* closed */
    }
    this.pcsc = null;
  }
}

import { randomBytes } from 'node:crypto';
import type { CccdIdentity } from '../cccd/index.ts';
import type { HisAppointment, InsuranceStatus } from '../his/index.ts';

/** What the box learnt about one patient at one kiosk, kept in memory only. */
export interface KioskIdentity {
  ref: string;
  kioskId: string;
  identity: CccdIdentity;
  createdAt: number;
  expiresAt: number;
  /** The last look-up's full answer: the check-in sends it to the HIS; the page saw only a trimmed view. */
  lookup?: { appointments: HisAppointment[]; insurance: InsuranceStatus | null };
  /** The look-up in flight: a second request for the same reference waits for it instead of asking again. */
  lookupInFlight?: Promise<{ reachable: boolean; appointments: HisAppointment[]; insurance: InsuranceStatus | null }>;
}

export interface IdentitySessionsOptions {
  ttlMs: number;
  /** Identities one kiosk may hold at once (the oldest goes first). */
  maxPerKiosk?: number;
  now?: () => number;
}

/**
 * Identities read by the box itself (chip, QR) or typed, behind short-lived opaque references
 * bound to the kiosk that read them. The page holds only the reference; look-ups and check-ins
 * take it, so a client can neither send an identity nor pick a birth date. An entry lives
 * `ttlMs` at most, goes at the page's idle reset (`wipe`) and after its check-in.
 */
export class IdentitySessions {
  private readonly entries = new Map<string, KioskIdentity>();
  private readonly now: () => number;

  constructor(private readonly options: IdentitySessionsOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Stores an identity for a kiosk and returns its entry. The same person from the same source
   * again (a QR the reader echoes back) gets the live entry; `replaced` is an earlier entry of
   * the same person from a weaker source (typed → chip), which is dropped.
   */
  put(kioskId: string, identity: CccdIdentity): { entry: KioskIdentity; reused: boolean; replaced?: string } {
    this.sweep();
    const now = this.now();
    let replaced: string | undefined;
    for (const e of this.entries.values()) {
      if (e.kioskId !== kioskId || e.identity.idNumber !== identity.idNumber) continue;
      if (e.identity.source === identity.source) return { entry: e, reused: true };
      if (strength(identity.source) > strength(e.identity.source)) {
        replaced = e.ref;
        this.entries.delete(e.ref);
      }
    }
    const entry: KioskIdentity = { ref: randomBytes(18).toString('base64url'), kioskId, identity, createdAt: now, expiresAt: now + this.options.ttlMs };
    this.entries.set(entry.ref, entry);
    const mine = [...this.entries.values()].filter((e) => e.kioskId === kioskId);
    for (const old of mine.slice(0, Math.max(0, mine.length - (this.options.maxPerKiosk ?? 8)))) this.entries.delete(old.ref);
    return { entry, reused: false, ...(replaced ? { replaced } : {}) };
  }

  /** The live entry `ref` of this kiosk, or undefined (unknown, expired or another kiosk's). */
  get(kioskId: string, ref: string): KioskIdentity | undefined {
    this.sweep();
    const e = this.entries.get(ref);
    return e && e.kioskId === kioskId ? e : undefined;
  }

  /** Whether any kiosk holds this number from this source (the reader's echo of a QR is not a new read). */
  holds(idNumber: string, source: CccdIdentity['source']): boolean {
    this.sweep();
    for (const e of this.entries.values()) if (e.identity.idNumber === idNumber && e.identity.source === source) return true;
    return false;
  }

  delete(ref: string): void {
    this.entries.delete(ref);
  }

  /** The page's idle reset: every identity this kiosk holds goes. */
  wipe(kioskId: string): number {
    let n = 0;
    for (const e of this.entries.values()) {
      if (e.kioskId === kioskId) {
        this.entries.delete(e.ref);
        n++;
      }
    }
    return n;
  }

  get size(): number {
    this.sweep();
    return this.entries.size;
  }

  /** Expired identities leave memory even when no request comes: sweeps every `everyMs`; returns the stop function. */
  sweepEvery(everyMs: number): () => void {
    const timer = setInterval(() => this.sweep(), everyMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  private sweep(): void {
    const now = this.now();
    for (const e of this.entries.values()) if (e.expiresAt <= now) this.entries.delete(e.ref);
  }
}

/** Typed < QR < chip: the chip's data replaces what was typed or scanned for the same number. */
function strength(source: CccdIdentity['source']): number {
  return source === 'typed' ? 0 : source === 'qr' ? 1 : 2;
}

/** Sources whose birth date the box read itself: only these give an automatic priority class. */
export function birthDateIsRead(identity: CccdIdentity): boolean {
  return identity.source !== 'typed' && /^\d{4}(-\d{2}-\d{2})?$/.test(identity.dateOfBirth);
}

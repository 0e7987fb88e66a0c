import type { Logger } from 'pino';
import type { DeliveryOutcome, Destination, DestinationFactory, OutboxItem } from '../../../core/contract/destination.ts';
import { CoercionError, coercePart10, coercionContextFrom } from '../data/coerce.ts';
import { DicomParseError } from '../data/codec.ts';
import type { CoercionContext, CoercionRule } from '../data/coerce.ts';
import { IMPLICIT_VR_LITTLE_ENDIAN } from '../data/transferSyntaxes.ts';
import { VERIFICATION_SOP_CLASS } from '../data/sopClasses.ts';
import { hex4, statusKind } from './dimse.ts';
import { DicomAssociationError, ScuAssociation, datasetStream, describeFile } from './scu.ts';
import type { StoredFile } from './scu.ts';

/**
 * `dicom-cstore` destination: sends each stored instance to the PACS by C-STORE, the dataset
 * bytes exactly as received, on a presentation context for the file's own SOP class and
 * transfer syntax (no transcoding). Associations stay open and are reused; up to
 * `associations` run in parallel (the outbox `window` with `ordered: false` gives parallel
 * deliver() calls), which is what beats the round-trip bound of one C-STORE at a time.
 */

export interface CStoreDestinationConfig {
  host: string;
  port: number;
  calledAe: string;
  callingAe?: string;
  associations?: number;
  maxPduLength?: number;
  connectTimeoutMs?: number;
  responseTimeoutMs?: number;
  /** Release an association nobody used for this long. */
  idleReleaseMs?: number;
  coerce?: CoercionRule[];
}

interface PooledAssociation {
  assoc: ScuAssociation;
  busy: boolean;
  idleTimer: NodeJS.Timeout | null;
}

/** At most 128 contexts per association (PS3.8 9.3.2.2); keep room for Verification. */
const MAX_PAIRS = 120;

export class CStoreDestination implements Destination {
  private readonly pool = new Set<PooledAssociation>();
  private opening = 0;
  private readonly waiters: Array<() => void> = [];
  /** (SOP class, transfer syntax) pairs seen, proposed together on every new association. */
  private readonly pairs = new Map<string, { sopClassUid: string; transferSyntaxUid: string }>();
  private stopped = false;

  constructor(
    readonly id: string,
    private readonly config: CStoreDestinationConfig,
    private readonly log: Logger,
    /** Order look-up for coercion rules with fromOrder (the order cache). */
    private readonly coercion: CoercionContext = {},
  ) {}

  private get max(): number {
    return Math.max(1, this.config.associations ?? 4);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(
      [...this.pool].map(async (p) => {
        if (p.idleTimer) clearTimeout(p.idleTimer);
        if (p.busy) p.assoc.abort('destination stopping');
        else await p.assoc.release(2000);
      }),
    );
    this.pool.clear();
    for (const w of this.waiters.splice(0)) w();
  }

  async deliver(item: OutboxItem, signal: AbortSignal): Promise<DeliveryOutcome> {
    if (!item.blobPath) return { result: 'permanent', reason: 'journal entry has no instance file to send' };
    let file: StoredFile;
    try {
      file = await describeFile(item.blobPath, item.blob?.size);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EIO' || code === 'EMFILE') return { result: 'retry', reason: `instance file unreadable: ${(err as Error).message}` };
      return { result: 'permanent', reason: `stored instance is not a Part 10 file: ${(err as Error).message}` };
    }
    let dataset: () => Buffer | AsyncIterable<Buffer> = () => datasetStream(file);
    if (this.config.coerce?.length) {
      try {
        const coerced = await coercePart10(file.path, this.config.coerce, this.coercion, file.size);
        dataset = () => skip(coerced.stream(), file.datasetOffset);
      } catch (err) {
        if (err instanceof CoercionError) return { result: 'permanent', reason: `coercion rules cannot apply: ${err.message}` };
        // The stored bytes do not parse as a dataset: no retry will change that.
        if (err instanceof DicomParseError) return { result: 'permanent', reason: `the stored instance does not parse, coercion cannot apply: ${err.message}` };
        return { result: 'retry', reason: `coercion failed: ${(err as Error).message}` };
      }
    }
    let lease: PooledAssociation;
    try {
      lease = await this.acquire(file, signal);
    } catch (err) {
      if (err instanceof DicomAssociationError && err.code === 'no-context') return { result: 'permanent', reason: err.message };
      return { result: 'retry', reason: `no association with ${this.config.calledAe}: ${(err as Error).message}` };
    }
    try {
      const r = await lease.assoc.store(
        { sopClassUid: file.sopClassUid, sopInstanceUid: file.sopInstanceUid, transferSyntaxUid: file.transferSyntaxUid, dataset: dataset() },
        signal,
      );
      const kind = statusKind(r.status);
      const comment = r.errorComment ? `: ${r.errorComment}` : '';
      if (kind === 'success') return { result: 'ok', detail: 'C-STORE success' };
      if (kind === 'warning') return { result: 'ok', detail: `C-STORE warning ${hex4(r.status)}${comment}` };
      this.log.warn({ outboxId: item.outboxId, status: hex4(r.status), comment: r.errorComment }, 'PACS refused the instance');
      return { result: 'permanent', reason: `C-STORE failure ${hex4(r.status)}${comment}` };
    } catch (err) {
      return { result: 'retry', reason: `C-STORE did not complete: ${(err as Error).message}` };
    } finally {
      this.releaseLease(lease);
    }
  }

  private async acquire(file: StoredFile, signal: AbortSignal): Promise<PooledAssociation> {
    const key = `${file.sopClassUid}|${file.transferSyntaxUid}`;
    if (!this.pairs.has(key)) {
      this.pairs.set(key, { sopClassUid: file.sopClassUid, transferSyntaxUid: file.transferSyntaxUid });
      if (this.pairs.size > MAX_PAIRS) this.pairs.delete(this.pairs.keys().next().value!);
    }
    for (;;) {
      if (this.stopped) throw new Error('destination stopped');
      if (signal.aborted) throw new Error('cancelled');
      let idleLacking: PooledAssociation | null = null;
      for (const p of this.pool) {
        if (p.busy) continue;
        if (!p.assoc.isOpen) {
          this.drop(p);
          continue;
        }
        if (p.assoc.contextFor(file.sopClassUid, file.transferSyntaxUid) !== undefined) return this.take(p);
        idleLacking ??= p;
      }
      if (this.pool.size + this.opening >= this.max && idleLacking) {
        // Make room: an idle association negotiated without this pair is replaced.
        this.drop(idleLacking);
        void idleLacking.assoc.release(2000);
      }
      if (this.pool.size + this.opening < this.max) {
        this.opening++;
        let assoc: ScuAssociation;
        try {
          assoc = await this.open(signal);
        } finally {
          this.opening--;
        }
        const p: PooledAssociation = { assoc, busy: false, idleTimer: null };
        this.pool.add(p);
        assoc.onClose = () => this.drop(p);
        if (assoc.contextFor(file.sopClassUid, file.transferSyntaxUid) === undefined) {
          this.wake();
          throw new DicomAssociationError(
            `${this.config.calledAe} does not accept SOP class ${file.sopClassUid} in transfer syntax ${file.transferSyntaxUid}`,
            'no-context',
            true,
          );
        }
        return this.take(p);
      }
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
    }
  }

  private open(signal: AbortSignal): Promise<ScuAssociation> {
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

  private take(p: PooledAssociation): PooledAssociation {
    p.busy = true;
    if (p.idleTimer) clearTimeout(p.idleTimer);
    p.idleTimer = null;
    return p;
  }

  private releaseLease(p: PooledAssociation): void {
    p.busy = false;
    if (!p.assoc.isOpen || this.stopped) this.drop(p);
    else {
      const idleMs = this.config.idleReleaseMs ?? 30_000;
      p.idleTimer = setTimeout(() => {
        if (p.busy) return;
        this.drop(p);
        void p.assoc.release(2000);
      }, idleMs);
      p.idleTimer.unref();
    }
    this.wake();
  }

  private drop(p: PooledAssociation): void {
    if (p.idleTimer) clearTimeout(p.idleTimer);
    p.idleTimer = null;
    if (this.pool.delete(p)) this.wake();
  }

  private wake(): void {
    const w = this.waiters.shift();
    w?.();
  }

  /** For the console: C-ECHO on a fresh association. */
  async selfTest(signal: AbortSignal): Promise<{ ok: boolean; detail: string }> {
    try {
      const a = await ScuAssociation.open({
        host: this.config.host,
        port: this.config.port,
        calledAe: this.config.calledAe,
        callingAe: this.config.callingAe ?? 'EDGE',
        signal,
        connectTimeoutMs: 10_000,
      });
      const status = await a.echo(signal);
      await a.release();
      return status === 0 ? { ok: true, detail: `C-ECHO to ${this.config.calledAe} succeeded` } : { ok: false, detail: `C-ECHO answered ${hex4(status)}` };
    } catch (err) {
      return { ok: false, detail: `C-ECHO to ${this.config.calledAe} failed: ${(err as Error).message}` };
    }
  }
}

/** Drops the first `n` bytes of a stream (the Part 10 header of a coerced copy). */
async function* skip(source: AsyncIterable<Buffer>, n: number): AsyncIterable<Buffer> {
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

export const dicomCStoreDestinationFactory: DestinationFactory<CStoreDestinationConfig> = {
  type: 'dicom-cstore',
  create: (ctx, config) => new CStoreDestination(ctx.id, config, ctx.log, coercionContextFrom(ctx.services)),
};

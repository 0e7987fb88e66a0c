import type { Logger } from 'pino';
import type { SqliteCommitmentStore, PendingInstance, ReportOutcome } from '../data/commitmentStore.ts';
import { EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN, datasetEncodingOf } from '../data/transferSyntaxes.ts';
import {
  STORAGE_COMMITMENT_PUSH_MODEL,
  StorageCommitmentError,
  decodeCommitmentReport,
  encodeCommitmentRequest,
  nActionRq,
  nEventReportRsp,
  newTransactionUid,
} from './commitment.ts';
import { N_EVENT_REPORT_RQ, hex4, statusKind } from './dimse.ts';
import type { Command } from './dimse.ts';
import { ScuAssociation } from './scu.ts';
import type { DimseResponse } from './scu.ts';

/**
 * The requesting side of Storage Commitment for one `dicom-cstore` destination: instances the
 * PACS answered C-STORE success for are grouped (up to `maxPerTransaction`, or whatever arrived
 * within `batchWindowMs`) into N-ACTION requests sent on an association of their own that
 * proposes only the Push Model SOP class. The report may come back on that association (kept
 * open `reportWaitMs` after the N-ACTION-RSP) or on a new association to the box's dicom-scp
 * (Orthanc does this); both end in `handleEventReport`. A transaction without a report after
 * `timeoutSeconds` is sent once more under a new UID, then flagged.
 */

export interface CommitmentConfig {
  enabled: boolean;
  /** Wait this long for the N-EVENT-REPORT before retrying (once) under a new transaction UID. */
  timeoutSeconds?: number;
  maxPerTransaction?: number;
  batchWindowMs?: number;
  /** Keep the N-ACTION association open this long for a report on the same association. */
  reportWaitMs?: number;
}

export interface PeerConfig {
  host: string;
  port: number;
  calledAe: string;
  callingAe: string;
  maxPduLength: number;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
}

/** N-EVENT-REPORT statuses (PS3.7 10.1.1.1.8 and C.4): processing failure, no such event type, invalid argument. */
const STATUS_PROCESSING_FAILURE = 0x0110;
const STATUS_NO_SUCH_EVENT_TYPE = 0x0113;
const STATUS_INVALID_ARGUMENT = 0x0115;

/** What the SCP and the SCU path need to store a report: the store answers only once it is durable. */
export function handleEventReport(
  store: Pick<SqliteCommitmentStore, 'applyReport'> | undefined,
  cmd: Command,
  dataset: Buffer | null,
  transferSyntaxUid: string,
  fromAe: string,
  log: Logger,
): { status: number; errorComment?: string; outcome?: ReportOutcome } {
  if (cmd.commandField !== N_EVENT_REPORT_RQ) return { status: 0x0211 };
  if (!store) return { status: STATUS_PROCESSING_FAILURE, errorComment: 'storage commitment is not set up on this box' };
  if (!dataset) return { status: STATUS_INVALID_ARGUMENT, errorComment: 'N-EVENT-REPORT without a dataset' };
  let report;
  try {
    report = decodeCommitmentReport(dataset, datasetEncodingOf(transferSyntaxUid), cmd.eventTypeId);
  } catch (err) {
    if (err instanceof StorageCommitmentError) {
      log.warn({ fromAe, code: err.code, error: err.message }, 'storage commitment report refused');
      return { status: err.code === 'bad-event-type' ? STATUS_NO_SUCH_EVENT_TYPE : STATUS_INVALID_ARGUMENT, errorComment: err.message.slice(0, 64) };
    }
    throw err;
  }
  try {
    const outcome = store.applyReport({ ...report, fromAe });
    if (!outcome.known)
      log.warn({ fromAe, transactionUid: report.transactionUid }, 'storage commitment report for a transaction the box does not know: ignored');
    else
      log.info(
        {
          fromAe,
          transactionUid: report.transactionUid,
          destination: outcome.destination,
          committed: outcome.committed,
          requeued: outcome.requeued,
          parked: outcome.parked,
          unmatched: outcome.unmatched,
        },
        'storage commitment report stored',
      );
    return { status: 0, outcome };
  } catch (err) {
    // Not durable: the PACS must send the report again.
    log.error({ err, transactionUid: report.transactionUid }, 'storage commitment report could not be stored');
    return { status: STATUS_PROCESSING_FAILURE, errorComment: `could not store the report: ${(err as Error).message}`.slice(0, 64) };
  }
}

export class CommitmentRequester {
  private timer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly abort = new AbortController();
  /** Failed N-ACTION attempts in a row: the next batch waits longer. */
  private failures = 0;
  readonly stats = { transactions: 0, actionFailures: 0, reportsOnAssociation: 0, retried: 0, flagged: 0 };

  constructor(
    private readonly destination: string,
    private readonly peer: PeerConfig,
    private readonly config: CommitmentConfig,
    private readonly store: SqliteCommitmentStore,
    private readonly log: Logger,
  ) {}

  private get timeoutMs(): number {
    return (this.config.timeoutSeconds ?? 3600) * 1000;
  }

  private get max(): number {
    return Math.min(Math.max(this.config.maxPerTransaction ?? 100, 1), 10_000);
  }

  /** Picks up what a previous run left (unassigned instances, overdue transactions). */
  start(): void {
    const every = Math.min(Math.max(this.timeoutMs / 4, 1000), 60_000);
    this.sweepTimer = setInterval(() => this.kick(true), every);
    this.sweepTimer.unref();
    this.kick(true);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.abort.abort();
    await this.running.catch(() => undefined);
  }

  /** C-STORE success: durable before the destination answers ok (retention keeps the file from here). */
  delivered(inst: PendingInstance): void {
    this.store.recordDelivered(this.destination, inst);
    if (this.store.unassigned(this.destination, this.max).length >= this.max) this.kick(false);
    else if (!this.timer) {
      this.timer = setTimeout(() => this.kick(false), this.config.batchWindowMs ?? 2000);
      this.timer.unref();
    }
  }

  /** Runs one flush (and a sweep when asked) after whatever is running now. */
  private kick(sweep: boolean): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped) return;
    this.running = this.running
      .then(async () => {
        if (sweep) await this.sweep();
        await this.flush();
      })
      .catch((err) => this.log.error({ err }, 'storage commitment round failed'));
  }

  /** Sends every unassigned pending instance, in transactions of at most `max`. */
  private async flush(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const batch = this.store.unassigned(this.destination, this.max);
      if (batch.length === 0) return;
      const uid = newTransactionUid();
      this.store.createTransaction(
        this.destination,
        uid,
        batch.map((b) => b.journalId),
      );
      if (!(await this.send(uid, batch))) {
        // The association failed: try again after a growing pause (the sweep also picks them up).
        this.failures++;
        const delay = Math.min(5000 * 2 ** Math.min(this.failures - 1, 6), 300_000);
        this.timer = setTimeout(() => this.kick(false), delay);
        this.timer.unref();
        return;
      }
      this.failures = 0;
    }
  }

  /** Overdue transactions: the first timeout resends under a new UID, the second flags them. */
  private async sweep(): Promise<void> {
    this.store.forgetPurged(this.destination);
    for (const tx of this.store.overdue(this.destination, this.timeoutMs)) {
      if (this.stopped) return;
      if (tx.state === 'sending') {
        // A crash between creating the transaction and the N-ACTION-RSP: unknown to the PACS, send again.
        this.store.abandon(tx.transactionUid, 'N-ACTION interrupted (box restarted)');
        continue;
      }
      if (tx.attempt >= 2) {
        const why = `no storage commitment report for transaction ${tx.transactionUid} within ${this.timeoutMs / 1000} s (after one retry)`;
        const n = this.store.flagTimedOut(tx.transactionUid, why);
        this.stats.flagged += n;
        this.log.warn({ transactionUid: tx.transactionUid, instances: n }, 'storage commitment timed out twice: instances flagged, files kept');
        continue;
      }
      const uid = newTransactionUid();
      const n = this.store.replace(tx.transactionUid, uid);
      this.stats.retried++;
      this.log.warn(
        { old: tx.transactionUid, transactionUid: uid, instances: n },
        'storage commitment report overdue: asking again under a new transaction UID',
      );
      if (n > 0 && !(await this.send(uid, this.store.pendingOf(uid)))) {
        // Not sent: leave it 'sending'; the next sweep turns it back into unassigned instances.
      }
    }
  }

  /** One N-ACTION on its own association; true when the PACS answered success. */
  private async send(uid: string, batch: PendingInstance[]): Promise<boolean> {
    let assoc: ScuAssociation | null = null;
    try {
      assoc = await ScuAssociation.open({
        host: this.peer.host,
        port: this.peer.port,
        calledAe: this.peer.calledAe,
        callingAe: this.peer.callingAe,
        contexts: [{ abstractSyntax: STORAGE_COMMITMENT_PUSH_MODEL, transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN] }],
        maxPduLength: this.peer.maxPduLength,
        connectTimeoutMs: this.peer.connectTimeoutMs,
        responseTimeoutMs: this.peer.responseTimeoutMs,
        signal: this.abort.signal,
      });
      const pc = assoc.contextFor(STORAGE_COMMITMENT_PUSH_MODEL);
      if (pc === undefined) throw new Error(`${this.peer.calledAe} does not accept the Storage Commitment Push Model SOP class`);
      const ts = assoc.transferSyntaxOf(pc)!;
      // A report on this association settles the transaction; the wait below ends early then.
      let reported: () => void = () => undefined;
      const reportSeen = new Promise<void>((resolve) => (reported = resolve));
      assoc.onRequest = async (msg: DimseResponse & { contextId: number }) => {
        const r = handleEventReport(this.store, msg.command, msg.dataset, assoc!.transferSyntaxOf(msg.contextId) ?? ts, this.peer.calledAe, this.log);
        this.stats.reportsOnAssociation++;
        if (r.outcome?.known) reported();
        const rsp = nEventReportRsp(msg.command.messageId ?? 0, r.status, msg.command.eventTypeId);
        if (r.errorComment) rsp.errorComment = r.errorComment;
        return rsp;
      };
      const dataset = encodeCommitmentRequest(
        { transactionUid: uid, referenced: batch.map((b) => ({ sopClassUid: b.sopClassUid, sopInstanceUid: b.sopInstanceUid })) },
        datasetEncodingOf(ts),
      );
      const rsp = await assoc.nRequest(STORAGE_COMMITMENT_PUSH_MODEL, nActionRq, dataset, this.abort.signal);
      const status = rsp.command.status ?? 0;
      if (statusKind(status) !== 'success' && statusKind(status) !== 'warning') {
        throw new Error(`N-ACTION answered ${hex4(status)}${rsp.command.errorComment ? `: ${rsp.command.errorComment}` : ''}`);
      }
      this.store.markSent(uid);
      this.stats.transactions++;
      this.log.info({ transactionUid: uid, instances: batch.length }, 'storage commitment requested');
      const waitMs = this.config.reportWaitMs ?? 5000;
      let waitTimer: NodeJS.Timeout | null = null;
      await Promise.race([reportSeen, new Promise<void>((r) => (waitTimer = setTimeout(r, waitMs)))]);
      if (waitTimer) clearTimeout(waitTimer);
      await assoc.release(5000);
      return true;
    } catch (err) {
      this.stats.actionFailures++;
      this.log.warn({ transactionUid: uid, instances: batch.length, error: (err as Error).message }, 'storage commitment request not sent; will retry');
      const tx = this.store.transaction(uid);
      if (tx?.state === 'sending') this.store.abandon(uid, `N-ACTION not sent: ${(err as Error).message}`);
      if (assoc?.isOpen) assoc.abort('storage commitment request failed');
      return false;
    }
  }

  /** Waits until everything queued so far was sent (tests, shutdown). */
  async idle(): Promise<void> {
    let seen: Promise<void>;
    do {
      seen = this.running;
      await seen.catch(() => undefined);
    } while (seen !== this.running);
  }
}

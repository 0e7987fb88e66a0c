import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import type { EventBus } from '../../../core/contract/events.ts';
import type { Outbox } from '../../../core/contract/store.ts';
import { SqliteCommitmentStore } from '../data/commitmentStore.ts';
import { CommitmentRequester } from './commitmentRequester.ts';
import type { CommitmentConfig } from './commitmentRequester.ts';
import type { CStoreDestinationConfig } from './cstoreDestination.ts';

/**
 * Wires storage commitment into the agent without touching the delivery path: the service
 * listens for `outbox.delivered` of every `dicom-cstore` destination with
 * `storageCommitment.enabled`, records the instance as pending (from then on retention keeps
 * its file) and lets that destination's requester batch it into an N-ACTION. The dicom-scp
 * finds the same store in the service registry (STORAGE_COMMITMENT_SERVICE) to record
 * N-EVENT-REPORTs arriving on new associations.
 */

export type CommitmentDestinationConfig = CStoreDestinationConfig & { type: string; enabled?: boolean; storageCommitment?: CommitmentConfig };

export interface StorageCommitmentServiceOptions {
  db: Database.Database;
  outbox: Pick<Outbox, 'reopenDelivered' | 'parkDelivered' | 'hold' | 'release'>;
  bus: Pick<EventBus, 'on' | 'removeListeners'>;
  destinations: Record<string, { type: string; enabled?: boolean; [k: string]: unknown }>;
  log: Logger;
  /** Wakes a destination's forwarder after a report put failed instances back to pending. */
  wake: (destination: string) => void;
  now?: () => number;
}

const OWNER = 'dicom.storageCommitment';

export class StorageCommitmentService extends SqliteCommitmentStore {
  readonly requesters = new Map<string, CommitmentRequester>();

  constructor(private readonly options: StorageCommitmentServiceOptions) {
    super(options.db, options.outbox, { onRequeued: options.wake, ...(options.now ? { now: options.now } : {}) });
    for (const [id, raw] of Object.entries(options.destinations)) {
      const c = raw as unknown as CommitmentDestinationConfig;
      if (c.type !== 'dicom-cstore' || c.enabled === false || !c.storageCommitment?.enabled) continue;
      const peer = {
        host: c.host,
        port: c.port,
        calledAe: c.calledAe,
        callingAe: c.callingAe ?? 'EDGE',
        maxPduLength: c.maxPduLength ?? 1024 * 1024,
        connectTimeoutMs: c.connectTimeoutMs ?? 15_000,
        responseTimeoutMs: c.responseTimeoutMs ?? 120_000,
      };
      this.requesters.set(id, new CommitmentRequester(id, peer, c.storageCommitment, this, options.log.child({ destination: id })));
    }
  }

  /** Subscribes to deliveries, catches up on what a crash left, starts the requesters. */
  start(): this {
    if (this.requesters.size === 0) return this;
    this.options.bus.on(OWNER, 'outbox.delivered', ({ destination, journalId }) => {
      const requester = this.requesters.get(destination);
      if (!requester) return;
      const inst = this.instanceOf(journalId);
      if (!inst) {
        this.options.log.warn({ destination, journalId }, 'delivered DICOM entry has no SOP UIDs: storage commitment not requested');
        return;
      }
      requester.delivered(inst);
    });
    this.options.bus.on(OWNER, 'agent.stopping', () => void this.stop());
    for (const id of this.requesters.keys()) {
      const n = this.catchUp(id);
      if (n > 0)
        this.options.log.info({ destination: id, instances: n }, 'storage commitment: delivered instances without a commitment row recorded as pending');
    }
    for (const r of this.requesters.values()) r.start();
    return this;
  }

  async stop(): Promise<void> {
    this.options.bus.removeListeners(OWNER);
    await Promise.all([...this.requesters.values()].map((r) => r.stop()));
  }

  /** SOP class and instance of a journal entry (as the dicom-scp parsed it). */
  private instanceOf(journalId: number): { journalId: number; sopClassUid: string; sopInstanceUid: string } | undefined {
    const row = this.options.db
      .prepare(
        `SELECT json_extract(parsed, '$.instance.sopClassUid') AS c, json_extract(parsed, '$.instance.sopInstanceUid') AS i FROM journal WHERE id = ? AND stream = 'dicom.instance'`,
      )
      .get(journalId) as { c: string | null; i: string | null } | undefined;
    return row?.c && row.i ? { journalId, sopClassUid: row.c, sopInstanceUid: row.i } : undefined;
  }

  /**
   * Delivered entries (with their file still here) that have no commitment row: a crash between
   * the outbox's 'done' and the bus event, or commitment newly enabled. They are asked for too.
   */
  private catchUp(destination: string): number {
    const rows = this.options.db
      .prepare(
        `SELECT o.journal_id AS id FROM outbox o INDEXED BY outbox_done JOIN journal j ON j.id = o.journal_id
         WHERE o.destination = ? AND o.state = 'done' AND j.blob_hash IS NOT NULL AND j.stream = 'dicom.instance'
           AND NOT EXISTS (SELECT 1 FROM dicom_commit_instance c WHERE c.destination = o.destination AND c.journal_id = o.journal_id)`,
      )
      .all(destination) as Array<{ id: number }>;
    let n = 0;
    for (const r of rows) {
      const inst = this.instanceOf(r.id);
      if (!inst) continue;
      this.recordDelivered(destination, inst);
      n++;
    }
    return n;
  }
}

import type { Socket } from 'node:net';
import { GuardedListener } from '../../../core/contract/net.ts';
import type { RefusalReason } from '../../../core/contract/net.ts';
import type { TlsServerSettings } from '../../../core/contract/net.ts';
import type { DriverContext } from '../../../core/contract/driver.ts';
import { ORDER_CACHE_SERVICE } from '../../lab/index.ts';
import { DicomParseError, PIXEL_DATA, readDataset, readDatasetWithEnd, sniffEncoding, writeDataset } from '../data/codec.ts';
import { extractInstanceMeta, instanceMetaOf } from '../data/instanceMeta.ts';
import type { InstanceMeta } from '../data/instanceMeta.ts';
import { parsePart10Header, part10Header } from '../data/part10.ts';
import { MODALITY_WORKLIST_FIND, STORAGE_SOP_CLASSES, VERIFICATION_SOP_CLASS } from '../data/sopClasses.ts';
import { STUDY_INDEX_SERVICE } from '../data/studyIndex.ts';
import { EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN, TRANSFER_SYNTAXES, datasetEncodingOf, transferSyntax } from '../data/transferSyntaxes.ts';
import { describeQuery, matchWorklist } from '../data/worklist.ts';
import { PC_ABSTRACT_SYNTAX_NOT_SUPPORTED, PC_TRANSFER_SYNTAXES_NOT_SUPPORTED } from './associate.ts';
import type { AssociateRq, RoleSelection } from './associate.ts';
import { STORAGE_COMMITMENT_SERVICE } from '../data/commitmentStore.ts';
import type { SqliteCommitmentStore } from '../data/commitmentStore.ts';
import { STORAGE_COMMITMENT_PUSH_MODEL } from './commitment.ts';
import { handleEventReport } from './commitmentRequester.ts';
import { STATUS_CANCEL, STATUS_OUT_OF_RESOURCES, STATUS_SUCCESS } from './dimse.ts';
import { CallerPolicy } from './callerPolicy.ts';
import type { AllowedCaller } from './callerPolicy.ts';
import { REJECT, describeReject } from './pdu.ts';
import { RefusalLog } from '../../../core/contract/net.ts';
import { ScpAssociation } from './scpAssociation.ts';
import type { AssociationPolicy, ScpRequest, ScpResponse, ScpServices } from './scpAssociation.ts';

/**
 * The box as a DICOM SCP for modalities: C-ECHO, C-STORE of any accepted storage SOP class in
 * the transfer syntax the modality chose (never transcoded), and the Modality Worklist C-FIND
 * from the orders the box holds. An instance is answered success only after its Part 10 file
 * is fsynced and its journal entry committed (DESIGN: nothing acknowledged before it is on disk).
 */

export type { AllowedCaller } from './callerPolicy.ts';

/** TCP bounds per port (the association bound is `maxAssociations`, both ports together). */
export interface DicomListenerLimits {
  maxConnections: number;
  maxConnectionsPerPeer: number;
}

/** DICOM over TLS on a second port (PS3.15 B.1), beside the plain one. */
export interface DicomTlsSettings extends TlsServerSettings {
  port: number;
}

export interface DicomScpOptions {
  host: string;
  port: number;
  aeTitle: string;
  /** Who may associate (calling AE and its addresses). Empty: nobody. */
  allowedCallers: AllowedCaller[];
  /** Who may open a connection at all, and where callers without `addresses` may call from. Empty: the box itself. */
  allowedPeers?: string[];
  limits: DicomListenerLimits;
  tls?: DicomTlsSettings;
  maxAssociations: number;
  /** Storage SOP classes accepted; absent: every standard storage SOP class. */
  sopClasses?: string[];
  /** Transfer syntaxes accepted, any order; the modality's preference decides among them. */
  transferSyntaxes?: string[];
  worklist: boolean;
  maxPduLength: number;
  artimMs: number;
  idleTimeoutMs: number;
  /** Routes override for the journal (the device's routes otherwise). */
  routes?: string[];
  /** Modality Worklist defaults for orders that name no station or modality. */
  worklistStationAe?: string;
  worklistDefaultModality?: string;
  worklistCodingScheme?: string;
}

/** An association idle this long may make room for a new one when the SCP is full (as GuardedListener does for sockets). */
const EVICTABLE_IDLE_MS = 2_000;

/** Enough for every element before the pixel data of ordinary instances. */
const HEAD_BYTES = 256 * 1024;

/**
 * Metadata from the dataset's first bytes, when they reach the pixel data (or are the whole
 * dataset); null when they do not (large sequences first, deflated): then the file is read.
 */
function metaFromHead(header: Buffer, head: Buffer, whole: boolean, transferSyntaxUid: string): InstanceMeta | null {
  const ts = datasetEncodingOf(transferSyntaxUid);
  if (ts.deflated || head.length < 8) return null;
  try {
    const encoding = sniffEncoding(head, 0, { explicitVr: ts.explicitVr, littleEndian: ts.littleEndian });
    const { elements, end } = readDatasetWithEnd(head, encoding, { stopAtTag: PIXEL_DATA, ranges: false });
    // Ending exactly at the end of a partial head may just be where the head was cut.
    if (!whole && end >= head.length) return null;
    return instanceMetaOf(elements, parsePart10Header(header), encoding);
  } catch (err) {
    if (err instanceof DicomParseError) return null;
    throw err;
  }
}

export interface DicomScpCounters {
  associations: number;
  /** A-ASSOCIATE-RJ sent (unknown AE, wrong address, limit). */
  rejected: number;
  /** Connections closed before any DICOM byte was read (allowedPeers, per-peer and total caps, TLS handshake). */
  refusedConnections: number;
  /** Idle associations aborted to make room for another peer's. */
  evicted: number;
  stored: number;
  duplicates: number;
  failed: number;
  dropped: number;
  echoes: number;
  worklistQueries: number;
}

/** The longest-idle of these associations, if one has idled at least EVICTABLE_IDLE_MS. */
function idlest(candidates: ScpAssociation[], now = Date.now()): ScpAssociation | null {
  const idle = candidates.filter((a) => a.idleMs(now) >= EVICTABLE_IDLE_MS).sort((a, b) => b.idleMs(now) - a.idleMs(now));
  return idle[0] ?? null;
}

export class DicomScp {
  private listeners: GuardedListener[] = [];
  private readonly live = new Set<ScpAssociation>();
  private readonly abstract: Set<string>;
  private readonly syntaxes: Set<string>;
  /** Built in the constructor: a bad address in allowedCallers/allowedPeers fails the start with its text. */
  readonly callers: CallerPolicy;
  private readonly refusals: RefusalLog;
  readonly counters: DicomScpCounters = {
    associations: 0,
    rejected: 0,
    refusedConnections: 0,
    evicted: 0,
    stored: 0,
    duplicates: 0,
    failed: 0,
    dropped: 0,
    echoes: 0,
    worklistQueries: 0,
  };
  address = { host: '', port: 0 };
  /** The TLS port once listening (0: no TLS). */
  tlsAddress = { host: '', port: 0 };

  constructor(
    private readonly ctx: DriverContext,
    private readonly options: DicomScpOptions,
  ) {
    this.abstract = new Set([...(options.sopClasses ?? STORAGE_SOP_CLASSES.map((s) => s.uid)), VERIFICATION_SOP_CLASS]);
    if (options.worklist) this.abstract.add(MODALITY_WORKLIST_FIND);
    this.syntaxes = new Set(options.transferSyntaxes ?? TRANSFER_SYNTAXES.map((t) => t.uid));
    this.callers = new CallerPolicy(options.aeTitle, options.allowedCallers, options.allowedPeers, options.host);
    this.refusals = new RefusalLog(ctx.log);
  }

  get associations(): number {
    return this.live.size;
  }

  async start(): Promise<void> {
    const policy: AssociationPolicy = {
      admit: (rq, remote, association) => this.admit(rq, remote, association),
      negotiate: (abstractSyntax, proposed) => this.negotiate(abstractSyntax, proposed),
      roles: (proposed) => this.roles(proposed),
      maxPduLength: this.options.maxPduLength,
      artimMs: this.options.artimMs,
      idleTimeoutMs: this.options.idleTimeoutMs,
    };
    const services: ScpServices = {
      store: (req) => this.store(req),
      find: (req, pending) => this.find(req, pending),
      eventReport: (req) => this.eventReport(req),
    };
    const accept = (socket: Socket): void => {
      const assoc = new ScpAssociation(socket, policy, services, this.ctx.log);
      this.live.add(assoc);
      assoc.onClose = () => this.live.delete(assoc);
    };
    const o = this.options;
    // Idle sockets are the association's to close (idleTimeoutMs, with an A-ABORT, aware of its own back-pressure): 0 here.
    const limits = { ...o.limits, idleSeconds: 0 };
    const onRefused = (_reason: RefusalReason): void => void this.counters.refusedConnections++;
    const plain = new GuardedListener({
      name: `DICOM ${o.aeTitle}`,
      host: o.host,
      port: o.port,
      allow: this.callers.peers,
      limits,
      log: this.ctx.log,
      onConnection: accept,
      onRefused,
    });
    const secure = o.tls
      ? new GuardedListener({
          name: `DICOM ${o.aeTitle} (TLS)`,
          host: o.host,
          port: o.tls.port,
          allow: this.callers.peers,
          limits,
          tls: o.tls,
          log: this.ctx.log,
          onConnection: accept,
          onRefused,
        })
      : null;
    try {
      await plain.start();
      this.listeners.push(plain);
      if (secure) {
        await secure.start();
        this.listeners.push(secure);
      }
    } catch (err) {
      for (const l of this.listeners) await l.stop();
      this.listeners = [];
      throw err;
    }
    this.address = plain.address;
    if (secure) this.tlsAddress = secure.address;
    if (this.callers.empty)
      this.ctx.log.warn(
        { aeTitle: o.aeTitle, port: this.address.port },
        'dicom-scp has no allowedCallers: every association is refused (calling AE title not recognized); list the modalities as allowedCallers: [{ aeTitle, addresses }]',
      );
  }

  async stop(): Promise<void> {
    const listeners = this.listeners;
    this.listeners = [];
    for (const a of this.live) a.shutdown();
    for (const l of listeners) {
      await l.stop();
      l.destroyAll();
    }
  }

  /** Runs a self-test C-ECHO: its random calling AE is admitted from loopback while it runs. */
  async selfTest<T>(run: (callingAe: string) => Promise<T>): Promise<T> {
    this.callers.peers.selfTests++;
    try {
      return await run(this.callers.selfTestAe);
    } finally {
      this.callers.peers.selfTests--;
    }
  }

  private admit(rq: AssociateRq, remote: string, incoming: ScpAssociation): { result: number; source: number; reason: number } | null {
    const refusal = this.callers.decide(rq.calledAe, rq.callingAe, remote);
    if (refusal) return this.reject(refusal.reject, rq, remote, refusal.why);
    // This association is already in `live`: count the established others.
    const established = [...this.live].filter((a) => a.established && a !== incoming);
    const fromPeer = established.filter((a) => a.remoteAddress === remote);
    if (fromPeer.length >= this.perPeerAssociations) {
      // One address never holds every slot: beyond its share it makes room from its own idle ones.
      const victim = idlest(fromPeer);
      if (!victim)
        return this.reject(
          REJECT.tooManyAssociations,
          rq,
          remote,
          `already ${fromPeer.length} busy associations from this address (at most ${this.perPeerAssociations} per address)`,
        );
      this.makeRoom(victim, rq, remote, `at most ${this.perPeerAssociations} per address`);
    } else if (established.length >= this.options.maxAssociations) {
      const victim = this.roomFrom(established, remote);
      if (!victim) return this.reject(REJECT.tooManyAssociations, rq, remote, `already ${established.length} busy associations (maxAssociations)`);
      this.makeRoom(victim, rq, remote, 'maxAssociations reached');
    }
    this.counters.associations++;
    return null;
  }

  /**
   * Associations one address may hold: its connection cap, and always fewer than all of them,
   * so that whatever the configuration, another modality finds a slot.
   */
  private get perPeerAssociations(): number {
    return Math.max(1, Math.min(this.options.limits.maxConnectionsPerPeer, this.options.maxAssociations - 1));
  }

  private makeRoom(victim: ScpAssociation, rq: AssociateRq, remote: string, why: string): void {
    this.counters.evicted++;
    this.ctx.log.info(
      { callingAe: victim.callingAe, remote: victim.remoteAddress, idleMs: victim.idleMs(), for: { callingAe: rq.callingAe, remote } },
      `DICOM association idle: aborted to admit another (${why})`,
    );
    victim.evict(`aborted to admit ${rq.callingAe} from ${remote}: ${why} and this association was idle`);
  }

  /**
   * When the SCP is full: the longest-idle association of the address holding the most of them
   * makes room (the newcomer's own address first when it holds as many: a modality that lost its
   * link gets back in). An association working (receiving, answering, paused by the disk) is
   * never taken; then the newcomer is refused "local limit exceeded" and retries.
   */
  private roomFrom(established: ScpAssociation[], remote: string): ScpAssociation | null {
    const byPeer = new Map<string, ScpAssociation[]>();
    for (const a of established) byPeer.set(a.remoteAddress, [...(byPeer.get(a.remoteAddress) ?? []), a]);
    const most = Math.max(...[...byPeer.values()].map((l) => l.length));
    const mine = byPeer.get(remote)?.length ?? 0;
    const peers = mine === most ? [remote] : [...byPeer.keys()].filter((p) => byPeer.get(p)!.length === most);
    return idlest(peers.flatMap((p) => byPeer.get(p)!));
  }

  private reject(
    reject: { result: number; source: number; reason: number },
    rq: AssociateRq,
    remote: string,
    why: string,
  ): { result: number; source: number; reason: number } {
    this.counters.rejected++;
    const what = describeReject(reject.result, reject.source, reject.reason);
    // AE titles and the address only: nothing the peer might have sent about a patient. Keyed by
    // address, not AE: a peer trying title after title still writes one line per 10 minutes.
    this.refusals.warn(`${reject.source}/${reject.reason} ${remote}`, { callingAe: rq.callingAe, calledAe: rq.calledAe, remote, why }, `DICOM ${what}`);
    return reject;
  }

  /** Keep what the modality offers: its first proposed transfer syntax that we accept. */
  private negotiate(abstractSyntax: string, proposed: string[]): string | number {
    // A PACS bringing storage commitment results (N-EVENT-REPORT on a new association), when the box requests commitment.
    if (abstractSyntax === STORAGE_COMMITMENT_PUSH_MODEL && this.commitments())
      return proposed.find((uid) => uid === EXPLICIT_VR_LITTLE_ENDIAN || uid === IMPLICIT_VR_LITTLE_ENDIAN) ?? PC_TRANSFER_SYNTAXES_NOT_SUPPORTED;
    if (!this.abstract.has(abstractSyntax)) return PC_ABSTRACT_SYNTAX_NOT_SUPPORTED;
    const ts = proposed.find((uid) => this.syntaxes.has(uid) && transferSyntax(uid) !== undefined);
    return ts ?? PC_TRANSFER_SYNTAXES_NOT_SUPPORTED;
  }

  private commitments(): SqliteCommitmentStore | undefined {
    return this.ctx.services.get(STORAGE_COMMITMENT_SERVICE);
  }

  /**
   * Role selection (PS3.7 D.3.3.4): the box is SCU of the Push Model, so on an association the
   * PACS opens it accepts the PACS as SCP (it sends N-EVENT-REPORTs) and refuses it as SCU (the
   * box does not serve N-ACTION). Other SOP classes keep default roles: the item is answered 1/0.
   */
  private roles(proposed: RoleSelection[]): RoleSelection[] {
    return proposed.map((r) =>
      r.sopClassUid === STORAGE_COMMITMENT_PUSH_MODEL
        ? { sopClassUid: r.sopClassUid, scu: false, scp: r.scp }
        : { sopClassUid: r.sopClassUid, scu: r.scu, scp: false },
    );
  }

  /** N-EVENT-REPORT: success only once the outcome is committed to SQLite (the store writes synchronously). */
  private async eventReport(req: ScpRequest & { identifier: Buffer }): Promise<ScpResponse> {
    if (req.pc.abstractSyntax !== STORAGE_COMMITMENT_PUSH_MODEL) return { status: 0x0211, errorComment: 'N-EVENT-REPORT only for storage commitment' };
    const r = handleEventReport(this.commitments(), req.command, req.identifier, req.pc.transferSyntax, req.callingAe, this.ctx.log);
    return r.errorComment ? { status: r.status, errorComment: r.errorComment } : { status: r.status };
  }

  private async store(req: ScpRequest): Promise<ScpResponse> {
    const sopClassUid = req.command.affectedSopClassUid ?? req.pc.abstractSyntax;
    const sopInstanceUid = req.command.affectedSopInstanceUid;
    if (!sopInstanceUid) {
      // Still drain the dataset so the association stays usable.
      for await (const _ of req.dataset!);
      return { status: 0xa900, errorComment: 'C-STORE-RQ without Affected SOP Instance UID' };
    }
    const header = part10Header({ sopClassUid, sopInstanceUid, transferSyntaxUid: req.pc.transferSyntax, sourceAeTitle: req.callingAe });
    const dataset = req.dataset!;
    // The dataset's first bytes are kept to read the metadata without reading the file back.
    const head: Buffer[] = [];
    let headBytes = 0;
    let total = 0;
    // Parsed on the next turn after the last byte: while the blob store waits for its fdatasync.
    let headMeta: Promise<InstanceMeta | null | Error> = Promise.resolve(null);
    const transferSyntaxUid = req.pc.transferSyntax;
    async function* file(): AsyncIterable<Buffer> {
      yield header;
      for await (const chunk of dataset) {
        if (headBytes < HEAD_BYTES) {
          head.push(chunk.subarray(0, HEAD_BYTES - headBytes));
          headBytes += Math.min(chunk.length, HEAD_BYTES - headBytes);
        }
        total += chunk.length;
        yield chunk;
      }
      headMeta = new Promise((resolve) =>
        setImmediate(() => {
          try {
            resolve(metaFromHead(header, Buffer.concat(head, headBytes), headBytes === total, transferSyntaxUid));
          } catch (err) {
            resolve(err as Error);
          }
        }),
      );
    }
    let ref;
    try {
      // The dataset's chunks are slices of socket reads, which Node never reuses.
      ref = await this.ctx.blobs.writeStream(file(), { chunksKept: true });
    } catch (err) {
      if (req.signal.aborted) {
        this.counters.dropped++;
        return { status: STATUS_OUT_OF_RESOURCES, errorComment: 'association ended' };
      }
      this.counters.failed++;
      this.ctx.log.error({ err, sopInstanceUid, callingAe: req.callingAe }, 'DICOM instance could not be written');
      return { status: STATUS_OUT_OF_RESOURCES, errorComment: `could not write the instance: ${(err as Error).message}`.slice(0, 64) };
    }
    let meta: InstanceMeta | null = null;
    let parseError: string | undefined;
    try {
      const fromHead = await headMeta;
      if (fromHead instanceof Error) throw fromHead;
      meta = fromHead ?? (await extractInstanceMeta(this.ctx.blobs.path(ref), ref.size));
    } catch (err) {
      // Still kept and forwarded as received: the PACS may read what we cannot.
      parseError = (err as Error).message;
      this.ctx.log.warn({ sopInstanceUid, callingAe: req.callingAe, error: parseError }, 'DICOM instance stored but its dataset does not parse');
    }
    const parsed = meta ?? { instance: { sopClassUid, sopInstanceUid, transferSyntaxUid: req.pc.transferSyntax }, sourceAeTitle: req.callingAe, parseError };
    try {
      const result = await this.ctx.journal.append({
        stream: 'dicom.instance',
        kind: 'C-STORE',
        idempotencyKey: `${sopInstanceUid}:${ref.hash}`,
        // Grouped by study at the destinations (stable hold, STOW-RS batches); they are unordered,
        // so the key only groups. Unparsable: the device id, as for every other driver.
        ...(meta?.study.uid ? { orderKey: meta.study.uid } : {}),
        blob: ref,
        parsed,
        personal: true,
        priority: 'clinical',
        meta: { callingAe: req.callingAe, remoteAddress: req.remoteAddress, transferSyntaxUid: req.pc.transferSyntax, ...(req.tls ? { tls: req.tls } : {}) },
        ...(this.options.routes ? { routes: this.options.routes } : {}),
      });
      if (result.duplicate) this.counters.duplicates++;
      else this.counters.stored++;
      if (meta && !result.duplicate) this.index(result.id, ref, meta, req.callingAe);
      return { status: STATUS_SUCCESS };
    } catch (err) {
      this.counters.failed++;
      this.ctx.log.error({ err, sopInstanceUid, callingAe: req.callingAe }, 'DICOM instance could not be journaled');
      return { status: STATUS_OUT_OF_RESOURCES, errorComment: `could not journal the instance: ${(err as Error).message}`.slice(0, 64) };
    }
  }

  /**
   * The study index is a view for the console, written after the journal commit in batches:
   * it neither slows nor fails the C-STORE (the backfill at start indexes what a crash lost).
   */
  private index(journalId: number, blob: { hash: string; size: number }, meta: InstanceMeta, sourceAe: string): void {
    this.ctx.services.get(STUDY_INDEX_SERVICE)?.recordSoon({ journalId, blob, meta, sourceAe, receivedAt: Date.now() }, (r) => {
      if (r instanceof Error) this.ctx.log.warn({ err: r }, 'study index record failed');
      else if (r.conflict)
        this.ctx.log.warn({ sopInstanceUid: meta.instance.sopInstanceUid, sourceAe }, 'DICOM instance received again with different bytes: both kept');
    });
  }

  private async find(req: ScpRequest & { identifier: Buffer }, pending: (identifier: Buffer) => Promise<void>): Promise<ScpResponse> {
    if (req.pc.abstractSyntax !== MODALITY_WORKLIST_FIND) return { status: 0xa900, errorComment: 'only Modality Worklist FIND is served' };
    this.counters.worklistQueries++;
    const enc = datasetEncodingOf(req.pc.transferSyntax);
    if (enc.deflated) return { status: 0xc000, errorComment: 'deflated C-FIND identifiers are not supported' };
    const identifier = readDataset(req.identifier, enc);
    const cache = this.ctx.services.get(ORDER_CACHE_SERVICE);
    const orders = cache?.list?.() ?? [];
    const answers = matchWorklist(identifier, orders, undefined, {
      timezone: this.ctx.timezone,
      ...(this.options.worklistStationAe ? { stationAeTitle: this.options.worklistStationAe } : {}),
      ...(this.options.worklistDefaultModality ? { defaultModality: this.options.worklistDefaultModality } : {}),
      ...(this.options.worklistCodingScheme ? { codingScheme: this.options.worklistCodingScheme } : {}),
    });
    this.ctx.log.info({ callingAe: req.callingAe, query: describeQuery(identifier), orders: orders.length, answers: answers.length }, 'worklist query');
    for (const answer of answers) {
      if (req.cancelled()) return { status: STATUS_CANCEL };
      if (req.signal.aborted) return { status: STATUS_CANCEL };
      await pending(writeDataset(answer, enc));
      // Let a C-CANCEL arriving meanwhile be read (PS3.4 C.4.1.2.3.1).
      await new Promise((r) => setImmediate(r));
    }
    return { status: req.cancelled() ? STATUS_CANCEL : STATUS_SUCCESS };
  }
}

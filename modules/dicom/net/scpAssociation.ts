import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { APPLICATION_CONTEXT, PC_ACCEPTED, decodeAssociateRq, encodeAssociateAc } from './associate.ts';
import type { AcceptedContext, AssociateRq, RoleSelection } from './associate.ts';
import { ChunkQueue } from './chunkQueue.ts';
import {
  C_CANCEL_RQ,
  C_ECHO_RQ,
  C_ECHO_RSP,
  C_FIND_RQ,
  C_FIND_RSP,
  C_STORE_RQ,
  C_STORE_RSP,
  N_EVENT_REPORT_RQ,
  N_EVENT_REPORT_RSP,
  STATUS_SUCCESS,
  STATUS_UNRECOGNIZED_OPERATION,
  decodeCommand,
  encodeCommand,
  hex4,
} from './dimse.ts';
import type { Command } from './dimse.ts';
import {
  DicomPduError,
  PDU_ABORT,
  PDU_ASSOCIATE_RQ,
  PDU_DATA_TF,
  PDU_RELEASE_RQ,
  PduReader,
  REJECT,
  encodeAbort,
  encodeAssociateRj,
  encodeDataPdu,
  encodeReleaseRp,
} from './pdu.ts';
import type { Pdu } from './pdu.ts';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from '../data/part10.ts';

/**
 * One association accepted by the box (PS3.8 state machine, acceptor side): ARTIM while
 * waiting for the A-ASSOCIATE-RQ, negotiation, then P-DATA carrying DIMSE messages until
 * A-RELEASE or A-ABORT. Command fragments are collected (they are small); dataset fragments
 * of a C-STORE are streamed to the service as they arrive, and the socket is paused while the
 * service is behind, so a 500 MB instance costs a few MB of memory.
 */

export interface AssociationPolicy {
  /**
   * Decide on an A-ASSOCIATE-RQ: null to accept, or a reject triple (PS3.8 Table 9-21). The
   * policy logs its own refusals (it knows why); the association only sends the A-ASSOCIATE-RJ.
   */
  admit(rq: AssociateRq, remoteAddress: string, association: ScpAssociation): { result: number; source: number; reason: number } | null;
  /** The transfer syntax accepted for an abstract syntax among those proposed, or a PC result code. */
  negotiate(abstractSyntax: string, proposed: string[]): string | number;
  /**
   * Answers to the requestor's SCP/SCU role selection items (PS3.7 D.3.3.4): the roles accepted
   * per SOP class, or nothing for an item not answered (default roles then apply).
   */
  roles?(proposed: RoleSelection[]): RoleSelection[];
  maxPduLength: number;
  artimMs: number;
  idleTimeoutMs: number;
}

export interface AcceptedPc {
  id: number;
  abstractSyntax: string;
  transferSyntax: string;
}

/** What a service receives for one DIMSE request. */
export interface ScpRequest {
  command: Command;
  pc: AcceptedPc;
  callingAe: string;
  calledAe: string;
  remoteAddress: string;
  /** Over the TLS port: the client certificate's subject CN when one was presented ('' when none). */
  tls?: { clientCertificate: string };
  /** The dataset bytes as they arrive (unchanged), when the request carries one. */
  dataset: ChunkQueue | null;
  /** Aborts when the association ends before the answer (abort, socket error, box stopping). */
  signal: AbortSignal;
  /** Set when the peer sent C-CANCEL for this message (C-FIND). */
  cancelled: () => boolean;
}

/** A response: the final status plus, for C-FIND, pending answers sent first. */
export interface ScpResponse {
  status: number;
  errorComment?: string;
}

export interface ScpServices {
  store(req: ScpRequest): Promise<ScpResponse>;
  /** Sends pending answers through `pending` and resolves with the final status. */
  find(req: ScpRequest & { identifier: Buffer }, pending: (identifier: Buffer) => Promise<void>): Promise<ScpResponse>;
  /** N-EVENT-REPORT (storage commitment results from a PACS); absent: "unrecognized operation". */
  eventReport?(req: ScpRequest & { identifier: Buffer }): Promise<ScpResponse>;
}

/** Above this many queued dataset bytes the socket is paused (one disk write batch is 4 MB). */
const HIGH_WATER = 8 * 1024 * 1024;
const LOW_WATER = 2 * 1024 * 1024;
/** A C-FIND identifier is a query of a few hundred bytes; past this it is refused (A700). */
export const MAX_FIND_IDENTIFIER = 64 * 1024;
/** A commitment report names every instance of a transaction (about 130 bytes each). */
const MAX_EVENT_REPORT = 16 * 1024 * 1024;
/** A command set is a few hundred bytes; collecting fragments past this is an attack (A-ABORT). */
export const MAX_COMMAND_SET = 64 * 1024;
/**
 * Largest A-ASSOCIATE-RQ read (before anything is known of the peer): 128 presentation contexts
 * with every transfer syntax DCMTK knows and extended negotiation stay well under 128 KB.
 */
export const MAX_ASSOCIATE_RQ = 256 * 1024;

interface Incoming {
  pc: AcceptedPc;
  commandParts: Buffer[];
  command: Command | null;
  dataset: ChunkQueue | null;
  commandBytes: number;
  identifierParts: Buffer[];
  identifierBytes: number;
  /** The request dataset passed its bound: the rest is read and dropped, then refused. */
  oversize: boolean;
  /** Counted in `serving` from its last byte until its answer (see ScpAssociation.idleMs). */
  serving: Serving;
}

interface Serving {
  counted: boolean;
  answered: boolean;
}

type State = 'awaiting-rq' | 'established' | 'releasing' | 'closed';

export class ScpAssociation {
  private state: State = 'awaiting-rq';
  private readonly reader: PduReader;
  private artim: NodeJS.Timeout | null = null;
  private rq: AssociateRq | null = null;
  private readonly pcs = new Map<number, AcceptedPc>();
  private incoming: Incoming | null = null;
  private readonly queues = new Set<ChunkQueue>();
  private readonly abort = new AbortController();
  private readonly cancelled = new Set<number>();
  private responses: Promise<void> = Promise.resolve();
  private maxSend = 16384;
  private paused = false;
  /** Requests fully received and not yet answered: the peer waits for us, it is not idle. */
  private serving = 0;
  private lastActivityMs = Date.now();
  private readonly tlsPeer: { clientCertificate: string } | undefined;
  readonly remoteAddress: string;
  /** Called once when the socket closes. */
  onClose: (() => void) | null = null;

  constructor(
    private readonly socket: Socket,
    private readonly policy: AssociationPolicy,
    private readonly services: ScpServices,
    private readonly log: Logger,
  ) {
    this.remoteAddress = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    // No P-DATA before the A-ASSOCIATE-AC: until then only an RQ of bounded size is read.
    this.reader = new PduReader({ maxDataLength: 0, maxAssociateLength: MAX_ASSOCIATE_RQ });
    const tls = socket as TLSSocket;
    if (tls.encrypted) {
      const cn = tls.getPeerCertificate?.()?.subject?.CN;
      this.tlsPeer = { clientCertificate: typeof cn === 'string' ? cn : '' };
    }
    socket.setNoDelay(true);
    this.artim = setTimeout(() => this.fail('ARTIM expired waiting for A-ASSOCIATE-RQ'), policy.artimMs);
    if (policy.idleTimeoutMs > 0) {
      socket.setTimeout(policy.idleTimeoutMs);
      socket.on('timeout', () => {
        // Paused by us (the disk is behind) or still answering: not the peer's silence; wait another period.
        if (this.paused || this.serving > 0) socket.setTimeout(policy.idleTimeoutMs);
        else this.fail(`idle for ${policy.idleTimeoutMs} ms (idleTimeoutMs)`);
      });
    }
    socket.on('data', (chunk: Buffer) => {
      this.lastActivityMs = Date.now();
      this.onData(chunk);
    });
    socket.on('error', (err) => this.closed(`socket error: ${err.message}`));
    socket.on('close', () => this.closed('connection closed'));
  }

  get callingAe(): string {
    return this.rq?.callingAe ?? '';
  }

  get established(): boolean {
    return this.state === 'established';
  }

  /**
   * How long the association has been idle: nothing received or sent, nothing being answered,
   * not paused by our own back-pressure. 0 while it works. Used to pick which association makes
   * room for another peer's when the box is at maxAssociations.
   */
  idleMs(now = Date.now()): number {
    if (this.serving > 0 || this.paused || this.state !== 'established') return 0;
    return Math.max(0, now - this.lastActivityMs);
  }

  /** Makes room for another association (the SCP is full and this one idles): A-ABORT. */
  evict(why: string): void {
    this.fail(why, true, 0, 0);
  }

  /** Box stopping: A-ABORT, drop whatever is half received. */
  shutdown(): void {
    this.fail('box stopping', true);
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    let pdus: Pdu[];
    try {
      pdus = this.reader.feed(chunk);
    } catch (err) {
      // PS3.8 Table 9-26, provider reasons: 1 unrecognized PDU, 6 invalid PDU parameter value (a length over the bound), 2 unexpected PDU.
      const reason = err instanceof DicomPduError ? (({ 'unknown-pdu': 1, 'too-large': 6 } as Record<string, number>)[err.code] ?? 2) : 2;
      this.fail(`bad PDU: ${(err as Error).message}`, true, 2, reason);
      return;
    }
    for (const pdu of pdus) {
      if ((this.state as State) === 'closed') return;
      try {
        this.onPdu(pdu);
      } catch (err) {
        this.fail(`protocol error: ${(err as Error).message}`, true, 2, 0);
        return;
      }
    }
  }

  private onPdu(pdu: Pdu): void {
    switch (pdu.type) {
      case PDU_ASSOCIATE_RQ:
        if (this.state !== 'awaiting-rq') throw new Error('A-ASSOCIATE-RQ on an established association');
        this.onAssociateRq(decodeAssociateRq(pdu.body));
        return;
      case PDU_DATA_TF:
        if (this.state !== 'established') throw new Error('P-DATA-TF before the association was accepted');
        for (const pdv of pdu.pdvs) this.onPdv(pdv.contextId, pdv.command, pdv.last, pdv.data);
        return;
      case PDU_RELEASE_RQ:
        if (this.state !== 'established') throw new Error('A-RELEASE-RQ outside an association');
        this.state = 'releasing';
        // Answer after every pending response went out (PS3.8 7.2: release is orderly).
        void this.responses.then(() => {
          if (this.state === 'closed') return;
          this.socket.end(encodeReleaseRp());
          this.artim = setTimeout(() => this.socket.destroy(), this.policy.artimMs);
        });
        return;
      case PDU_ABORT:
        this.closed(`peer sent A-ABORT (source ${pdu.source}, reason ${pdu.reason})`);
        this.socket.destroy();
        return;
      default:
        throw new Error(`unexpected PDU type ${pdu.type}`);
    }
  }

  private onAssociateRq(rq: AssociateRq): void {
    if (this.artim) clearTimeout(this.artim);
    this.artim = null;
    this.rq = rq;
    const protocol = (rq.protocolVersion & 1) === 0 ? REJECT.protocolVersion : rq.applicationContext !== APPLICATION_CONTEXT ? REJECT.applicationContext : null;
    if (protocol) this.log.warn({ callingAe: rq.callingAe, calledAe: rq.calledAe, remote: this.remoteAddress, reject: protocol }, 'DICOM association rejected');
    const reject = protocol ?? this.policy.admit(rq, this.remoteAddress, this);
    if (reject) {
      this.state = 'closed';
      this.socket.end(encodeAssociateRj(reject.result, reject.source, reject.reason));
      setTimeout(() => this.socket.destroy(), this.policy.artimMs).unref();
      return;
    }
    const answers: AcceptedContext[] = [];
    for (const pc of rq.contexts) {
      const choice = this.policy.negotiate(pc.abstractSyntax, pc.transferSyntaxes);
      if (typeof choice === 'string') {
        this.pcs.set(pc.id, { id: pc.id, abstractSyntax: pc.abstractSyntax, transferSyntax: choice });
        answers.push({ id: pc.id, result: PC_ACCEPTED, transferSyntax: choice });
      } else answers.push({ id: pc.id, result: choice });
    }
    // Our fragments must fit the requestor's maximum; 0 means no limit (PS3.8 D.1).
    this.maxSend = rq.user.maxPduLength === 0 ? 1024 * 1024 : Math.max(rq.user.maxPduLength, 1024);
    this.reader.maxDataLength = Math.max(this.policy.maxPduLength, 16384) + 64;
    this.state = 'established';
    this.socket.write(
      encodeAssociateAc({
        calledAe: rq.calledAe,
        callingAe: rq.callingAe,
        contexts: answers,
        user: {
          maxPduLength: this.policy.maxPduLength,
          implementationClassUid: IMPLEMENTATION_CLASS_UID,
          implementationVersionName: IMPLEMENTATION_VERSION_NAME,
          ...(rq.user.roles?.length && this.policy.roles ? { roles: this.policy.roles(rq.user.roles) } : {}),
        },
      }),
    );
    this.log.info(
      {
        callingAe: rq.callingAe,
        calledAe: rq.calledAe,
        remote: this.remoteAddress,
        ...(this.tlsPeer ? { tls: this.tlsPeer } : {}),
        accepted: this.pcs.size,
        proposed: rq.contexts.length,
        implementation: rq.user.implementationVersionName,
      },
      'DICOM association accepted',
    );
  }

  private onPdv(contextId: number, isCommand: boolean, last: boolean, data: Buffer): void {
    const pc = this.pcs.get(contextId);
    if (!pc) throw new Error(`PDV on presentation context ${contextId}, which was not accepted`);
    let msg = this.incoming;
    if (isCommand) {
      if (msg?.command) throw new Error('command fragment while a dataset was expected');
      if (!msg)
        msg = this.incoming = {
          pc,
          commandParts: [],
          commandBytes: 0,
          command: null,
          dataset: null,
          identifierParts: [],
          identifierBytes: 0,
          oversize: false,
          serving: { counted: false, answered: false },
        };
      msg.commandBytes += data.length;
      if (msg.commandBytes > MAX_COMMAND_SET) throw new Error(`command set larger than ${MAX_COMMAND_SET} bytes`);
      msg.commandParts.push(data);
      if (last) this.onCommand(msg);
      return;
    }
    if (!msg?.command) throw new Error('dataset fragment without a command');
    if (msg.dataset) {
      msg.dataset.push(data);
      if (msg.dataset.bytes > HIGH_WATER && !this.paused) {
        this.paused = true;
        this.socket.pause();
      }
    } else {
      msg.identifierBytes += data.length;
      const max = this.identifierLimit(msg);
      // Over the bound: the rest is read and dropped (never held), then the request is refused.
      if (msg.identifierBytes > max) {
        msg.oversize = true;
        msg.identifierParts = [];
      } else msg.identifierParts.push(data);
    }
    if (last) {
      this.incoming = null;
      this.startServing(msg);
      if (msg.dataset) msg.dataset.end();
      else if (msg.oversize) this.refuseOversize(msg);
      else if (msg.command.commandField === N_EVENT_REPORT_RQ) this.dispatchEventReport(msg, Buffer.concat(msg.identifierParts));
      else this.dispatchFind(msg, Buffer.concat(msg.identifierParts));
    }
  }

  private identifierLimit(msg: Incoming): number {
    return msg.command?.commandField === N_EVENT_REPORT_RQ ? MAX_EVENT_REPORT : MAX_FIND_IDENTIFIER;
  }

  /** A C-FIND query (or a report) over its bound: a failure status, logged, the association kept. */
  private refuseOversize(msg: Incoming): void {
    const cmd = msg.command!;
    const max = this.identifierLimit(msg);
    this.log.warn(
      { callingAe: this.callingAe, remote: this.remoteAddress, bytes: msg.identifierBytes, max },
      'DICOM request dataset over its size bound refused',
    );
    const report = cmd.commandField === N_EVENT_REPORT_RQ;
    // C-FIND A700 "refused: out of resources" (PS3.4 C.4.1.1.4); N-EVENT-REPORT 0213 "resource limitation" (PS3.7 C.5).
    const status = report ? 0x0213 : 0xa700;
    this.respond(
      report ? N_EVENT_REPORT_RSP : C_FIND_RSP,
      cmd,
      msg.pc,
      Promise.resolve({ status, errorComment: `request dataset over ${max} bytes` }),
      msg.serving,
    );
  }

  private startServing(msg: Incoming): void {
    if (msg.serving.counted || msg.serving.answered) return;
    msg.serving.counted = true;
    this.serving++;
  }

  private onCommand(msg: Incoming): void {
    const cmd = decodeCommand(Buffer.concat(msg.commandParts));
    msg.command = cmd;
    if (cmd.commandField === C_CANCEL_RQ) {
      this.incoming = null;
      if (cmd.messageIdBeingRespondedTo !== undefined) this.cancelled.add(cmd.messageIdBeingRespondedTo);
      return;
    }
    if (cmd.commandField === C_STORE_RQ && cmd.hasDataset) {
      msg.dataset = new ChunkQueue(LOW_WATER, () => this.maybeResume());
      this.queues.add(msg.dataset);
      const req = this.request(msg, msg.dataset);
      const done = this.services.store(req).catch((err: unknown) => ({ status: 0xa700, errorComment: `storage failed: ${(err as Error).message}` }));
      void done.finally(() => {
        this.queues.delete(msg.dataset!);
        this.maybeResume();
      });
      this.respond(C_STORE_RSP, cmd, msg.pc, done, msg.serving);
      return;
    }
    if (cmd.commandField === C_FIND_RQ && cmd.hasDataset) return; // identifier follows
    if (cmd.commandField === N_EVENT_REPORT_RQ && cmd.hasDataset && this.services.eventReport) return; // report dataset follows
    this.incoming = null;
    this.startServing(msg);
    if (cmd.commandField === C_ECHO_RQ) {
      this.respond(C_ECHO_RSP, cmd, msg.pc, Promise.resolve({ status: STATUS_SUCCESS }), msg.serving);
      return;
    }
    // Unknown or unsupported request: answer with the matching response field (bit 15 set).
    this.respond((cmd.commandField | 0x8000) & 0xffff, cmd, msg.pc, Promise.resolve({ status: STATUS_UNRECOGNIZED_OPERATION }), msg.serving);
  }

  private dispatchFind(msg: Incoming, identifier: Buffer): void {
    const cmd = msg.command!;
    const req = { ...this.request(msg, null), identifier };
    const pending = (answer: Buffer): Promise<void> =>
      this.sendMessage(
        msg.pc.id,
        encodeCommand({
          commandField: C_FIND_RSP,
          messageIdBeingRespondedTo: cmd.messageId ?? 0,
          affectedSopClassUid: msg.pc.abstractSyntax,
          hasDataset: true,
          status: 0xff00,
        }),
        answer,
      );
    // Pending answers go out in order after earlier responses.
    const done = this.responses
      .then(() => this.services.find(req, pending))
      .catch((err: unknown) => ({ status: 0xc000, errorComment: `worklist failed: ${(err as Error).message}` }));
    this.respond(C_FIND_RSP, cmd, msg.pc, done, msg.serving);
  }

  private dispatchEventReport(msg: Incoming, report: Buffer): void {
    const req = { ...this.request(msg, null), identifier: report };
    const done = this.services.eventReport!(req).catch((err: unknown) => ({ status: 0x0110, errorComment: `report not stored: ${(err as Error).message}` }));
    this.respond(N_EVENT_REPORT_RSP, msg.command!, msg.pc, done, msg.serving);
  }

  private request(msg: Incoming, dataset: ChunkQueue | null): ScpRequest {
    const id = msg.command!.messageId ?? 0;
    return {
      command: msg.command!,
      pc: msg.pc,
      callingAe: this.rq?.callingAe ?? '',
      calledAe: this.rq?.calledAe ?? '',
      remoteAddress: this.remoteAddress,
      ...(this.tlsPeer ? { tls: this.tlsPeer } : {}),
      dataset,
      signal: this.abort.signal,
      cancelled: () => this.cancelled.has(id),
    };
  }

  /** Responses leave in request order, each once its service finished. */
  private respond(field: number, cmd: Command, pc: AcceptedPc, result: Promise<ScpResponse>, serving: Serving): void {
    this.responses = this.responses.then(async () => {
      const r = await result;
      try {
        await this.sendResponse(field, cmd, pc, r);
      } finally {
        serving.answered = true;
        if (serving.counted) {
          serving.counted = false;
          this.serving--;
        }
        this.lastActivityMs = Date.now();
      }
    });
  }

  private async sendResponse(field: number, cmd: Command, pc: AcceptedPc, r: ScpResponse): Promise<void> {
    if (this.state === 'closed') return;
    const rsp: Command = { commandField: field, messageIdBeingRespondedTo: cmd.messageId ?? 0, hasDataset: false, status: r.status };
    if (cmd.affectedSopClassUid ?? pc.abstractSyntax) rsp.affectedSopClassUid = cmd.affectedSopClassUid ?? pc.abstractSyntax;
    if (cmd.affectedSopInstanceUid) rsp.affectedSopInstanceUid = cmd.affectedSopInstanceUid;
    if (cmd.eventTypeId !== undefined && field === N_EVENT_REPORT_RSP) rsp.eventTypeId = cmd.eventTypeId;
    if (r.errorComment) rsp.errorComment = r.errorComment;
    if (r.status !== STATUS_SUCCESS)
      this.log.warn({ callingAe: this.callingAe, status: hex4(r.status), comment: r.errorComment }, 'DICOM request answered with a non-success status');
    await this.sendMessage(pc.id, encodeCommand(rsp), null);
  }

  /** Sends a command (and dataset) in fragments no larger than the peer's maximum PDU. */
  private async sendMessage(pcId: number, command: Buffer, dataset: Buffer | null): Promise<void> {
    if (this.state === 'closed') return;
    const room = this.maxSend - 6;
    const send = (bytes: Buffer, isCommand: boolean): void => {
      for (let at = 0; at < bytes.length || at === 0; at += room) {
        const part = bytes.subarray(at, Math.min(bytes.length, at + room));
        const last = at + room >= bytes.length;
        for (const b of encodeDataPdu(pcId, isCommand, last, part)) this.socket.write(b);
        if (last) break;
      }
    };
    // One segment for header and command: written apart, the modality wakes for 12 bytes first.
    this.socket.cork();
    send(command, true);
    if (dataset) send(dataset, false);
    this.socket.uncork();
    if (this.socket.writableNeedDrain) await new Promise<void>((resolve) => this.socket.once('drain', resolve).once('close', resolve));
  }

  private maybeResume(): void {
    if (!this.paused) return;
    for (const q of this.queues) if (q.bytes >= LOW_WATER) return;
    this.paused = false;
    this.socket.resume();
  }

  /** Abort the association: A-ABORT to the peer when asked, then drop the connection. */
  private fail(why: string, sendAbort = true, source = 0, reason = 0): void {
    if (this.state === 'closed') return;
    this.log.warn({ callingAe: this.callingAe, remote: this.remoteAddress, why }, 'DICOM association aborted');
    if (sendAbort && this.socket.writable) this.socket.write(encodeAbort(source, reason));
    this.closed(why);
    this.socket.destroy();
  }

  private closed(why: string): void {
    if (this.artim) clearTimeout(this.artim);
    this.artim = null;
    const wasReleasing = this.state === 'releasing';
    if (this.state !== 'closed') this.state = 'closed';
    else if (this.queues.size === 0 && !this.onClose) return;
    // Half-received instances are dropped: the blob writer removes its temporary file.
    const err = new Error(`association ended before the dataset was complete (${why})`);
    let cut = false;
    for (const q of this.queues) {
      if (!q.finished) {
        cut = true;
        this.log.warn({ callingAe: this.callingAe, remote: this.remoteAddress, why }, 'DICOM instance dropped: association ended mid-transfer');
        q.fail(err);
      }
    }
    // A release lets finished requests complete; a release in the middle of a dataset (then a
    // hang-up) cut that transfer: abort it, so it is counted as dropped, not as a disk failure.
    if (!wasReleasing || cut) this.abort.abort(err);
    const cb = this.onClose;
    this.onClose = null;
    cb?.();
  }
}

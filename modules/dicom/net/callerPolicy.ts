import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { LOOPBACK_PEERS, PeerAllowList, unmapIpv4 } from '../../../core/contract/net.ts';
import { REJECT } from './pdu.ts';

/**
 * Who may associate with the box's SCP (issue #15: a C-FIND from calling AE "ANYBODY" read the
 * worklist). An AE title is only a label the peer chooses, so it counts together with the
 * address it calls from: a caller's own `addresses`, or else the listener's `allowedPeers`
 * (the box itself when that is empty). Nothing listed: nobody gets in.
 */

export interface AllowedCaller {
  aeTitle: string;
  /** Addresses or networks this AE may call from; absent: those of `allowedPeers`. */
  addresses?: string[];
}

export type RejectTriple = { result: number; source: number; reason: number };

export interface CallerRefusal {
  reject: RejectTriple;
  /** For the log line: what did not match (AE titles and addresses only). */
  why: string;
}

/**
 * The TCP-level allow-list of the DICOM listeners: `allowedPeers` plus every caller's own
 * addresses, and the box itself while a self-test runs (its C-ECHO comes from the box even
 * when the listed peers are LAN devices only).
 */
export class ListenerPeers extends PeerAllowList {
  selfTests = 0;

  constructor(
    entries: readonly string[],
    private readonly self: PeerAllowList,
  ) {
    super(entries);
  }

  override allows(remote: string | undefined): boolean {
    return super.allows(remote) || (this.selfTests > 0 && this.self.allows(remote));
  }
}

/** The box's own addresses as a listener bound to `host` sees its self-test: loopback, or that address. */
function selfAddresses(host: string): PeerAllowList {
  const bound = unmapIpv4(host);
  return new PeerAllowList(isIP(bound) !== 0 && bound !== '0.0.0.0' && bound !== '::' ? [...LOOPBACK_PEERS, bound] : LOOPBACK_PEERS);
}

interface Caller {
  aeTitle: string;
  from: PeerAllowList;
}

export class CallerPolicy {
  readonly peers: ListenerPeers;
  private readonly callers: Caller[];
  private readonly ours: string;
  private readonly self: PeerAllowList;
  /** Known only to this process: the self-test's calling AE, admitted from loopback only. */
  readonly selfTestAe = `SELFTEST${randomBytes(4).toString('hex').toUpperCase()}`;

  /** `host`: the listeners' bind address (the self-test comes from it). */
  constructor(aeTitle: string, callers: readonly AllowedCaller[], allowedPeers: readonly string[] | undefined, host: string) {
    this.ours = aeTitle.trim();
    this.self = selfAddresses(host);
    const listener = allowedPeers && allowedPeers.length > 0 ? allowedPeers : LOOPBACK_PEERS;
    const defaultFrom = new PeerAllowList(listener);
    this.callers = callers.map((c) => ({
      aeTitle: c.aeTitle.trim(),
      from: c.addresses && c.addresses.length > 0 ? new PeerAllowList(c.addresses) : defaultFrom,
    }));
    const own = callers.flatMap((c) => c.addresses ?? []);
    this.peers = new ListenerPeers([...new Set([...listener, ...own])], this.self);
  }

  /** No caller listed: every association is refused (the driver says so in its status). */
  get empty(): boolean {
    return this.callers.length === 0;
  }

  /** null: admitted. Otherwise the A-ASSOCIATE-RJ to send (PS3.8 Table 9-21) and why. */
  decide(calledAe: string, callingAe: string, remote: string): CallerRefusal | null {
    if (calledAe !== this.ours) return { reject: REJECT.calledAeNotRecognized, why: `called AE "${calledAe}" is not this box's AE "${this.ours}"` };
    if (callingAe === this.selfTestAe && this.self.allows(remote)) return null;
    const byTitle = this.callers.filter((c) => c.aeTitle === callingAe);
    if (byTitle.length === 0)
      return {
        reject: REJECT.callingAeNotRecognized,
        why: this.empty ? 'no allowedCallers configured: every association is refused' : `calling AE "${callingAe}" is not in allowedCallers`,
      };
    if (!byTitle.some((c) => c.from.allows(remote)))
      return {
        reject: REJECT.callingAeNotRecognized,
        why: `calling AE "${callingAe}" may not call from ${remote} (allowed: ${byTitle.map((c) => String(c.from)).join('; ')})`,
      };
    return null;
  }
}

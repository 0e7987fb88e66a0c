import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { LOOPBACK_PEERS, PeerAllowList, unmapIpv4 } from "../../../agent/net/peers.js";
import { REJECT } from "./pdu.js";
/**
 * The TCP-level allow-list of the DICOM listeners: `allowedPeers` plus every caller's own
 * addresses, and the box itself while a self-test runs (its C-ECHO comes from the box even
 * when the listed peers are LAN devices only).
 */
export class ListenerPeers extends PeerAllowList {
    self;
    selfTests = 0;
    constructor(entries, self) {
        super(entries);
        this.self = self;
    }
    allows(remote) {
        return super.allows(remote) || (this.selfTests > 0 && this.self.allows(remote));
    }
}
/** The box's own addresses as a listener bound to `host` sees its self-test: loopback, or that address. */
function selfAddresses(host) {
    const bound = unmapIpv4(host);
    return new PeerAllowList(isIP(bound) !== 0 && bound !== '0.0.0.0' && bound !== '::' ? [...LOOPBACK_PEERS, bound] : LOOPBACK_PEERS);
}
export class CallerPolicy {
    peers;
    callers;
    ours;
    self;
    /** Known only to this process: the self-test's calling AE, admitted from loopback only. */
    selfTestAe = `SELFTEST${randomBytes(4).toString('hex').toUpperCase()}`;
    /** `host`: the listeners' bind address (the self-test comes from it). */
    constructor(aeTitle, callers, allowedPeers, host) {
        this.ours = aeTitle.trim();
        this.self = selfAddresses(host);
        const listener = allowedPeers && allowedPeers.length > 0 ? allowedPeers : LOOPBACK_PEERS;
        const defaultFrom = new PeerAllowList(listener);
        this.callers = callers.map((c) => ({ aeTitle: c.aeTitle.trim(), from: c.addresses && c.addresses.length > 0 ? new PeerAllowList(c.addresses) : defaultFrom }));
        const own = callers.flatMap((c) => c.addresses ?? []);
        this.peers = new ListenerPeers([...new Set([...listener, ...own])], this.self);
    }
    /** No caller listed: every association is refused (the driver says so in its status). */
    get empty() {
        return this.callers.length === 0;
    }
    /** null: admitted. Otherwise the A-ASSOCIATE-RJ to send (PS3.8 Table 9-21) and why. */
    decide(calledAe, callingAe, remote) {
        if (calledAe !== this.ours)
            return { reject: REJECT.calledAeNotRecognized, why: `called AE "${calledAe}" is not this box's AE "${this.ours}"` };
        if (callingAe === this.selfTestAe && this.self.allows(remote))
            return null;
        const byTitle = this.callers.filter((c) => c.aeTitle === callingAe);
        if (byTitle.length === 0)
            return { reject: REJECT.callingAeNotRecognized, why: this.empty ? 'no allowedCallers configured: every association is refused' : `calling AE "${callingAe}" is not in allowedCallers` };
        if (!byTitle.some((c) => c.from.allows(remote)))
            return { reject: REJECT.callingAeNotRecognized, why: `calling AE "${callingAe}" may not call from ${remote} (allowed: ${byTitle.map((c) => String(c.from)).join('; ')})` };
        return null;
    }
}

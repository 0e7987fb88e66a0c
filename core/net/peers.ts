import { BlockList, isIP } from 'node:net';

/** One entry of an allow-list: an address ("10.0.5.21", "fe80::1") or a network in CIDR ("10.0.5.0/24"). */
export const PEER_PATTERN = '^(any|[0-9.]+(/[0-9]{1,2})?|[0-9A-Fa-f:.]+(/[0-9]{1,3})?)$';

/** Addresses a listener accepts when its configuration lists none: the box itself. */
export const LOOPBACK_PEERS = ['127.0.0.0/8', '::1'];

export class PeerListError extends Error {}

/**
 * Which remote addresses may connect to a listener. Every device listener has one; when a
 * configuration names none, only the box itself (loopback) may connect, so a listener opened to
 * the LAN accepts exactly the devices IT staff listed. "any" admits everyone (logged at start).
 */
export class PeerAllowList {
  private readonly list = new BlockList();
  readonly entries: readonly string[];
  readonly any: boolean;

  constructor(entries: readonly string[] | undefined) {
    this.entries = entries && entries.length > 0 ? entries : LOOPBACK_PEERS;
    this.any = this.entries.includes('any');
    for (const entry of this.entries) {
      if (entry === 'any') continue;
      const [address, bits] = entry.split('/');
      const family = isIP(address ?? '');
      if (family === 0) throw new PeerListError(`"${entry}" is not an IP address or network (e.g. 10.0.5.21 or 10.0.5.0/24)`);
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (bits === undefined) this.list.addAddress(address!, type);
      else {
        const prefix = Number(bits);
        if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128))
          throw new PeerListError(`"${entry}": the prefix length must be 0–${family === 4 ? 32 : 128}`);
        this.list.addSubnet(address!, prefix, type);
      }
    }
  }

  allows(remote: string | undefined): boolean {
    if (this.any) return true;
    if (!remote) return false;
    const address = unmapIpv4(remote);
    const family = isIP(address);
    if (family === 0) return false;
    return this.list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }

  /** For status lines and logs: "127.0.0.0/8, ::1". */
  toString(): string {
    return this.entries.join(', ');
  }
}

/** "::ffff:10.0.5.21" (an IPv4 peer on a dual-stack socket) → "10.0.5.21". */
export function unmapIpv4(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

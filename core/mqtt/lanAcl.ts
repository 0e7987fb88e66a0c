/**
 * Who may read and write which topics on the LAN broker. The box's tree is
 * `edge/v1/<facility>/<box>/…`; the box writes it in-process (aedes' `broker.publish` does not
 * pass through these checks), clients only as their role allows.
 */

/** `screen`: call screens, LED boards, dashboards (read-only). `device`: also publishes under its own id. */
export type LanRole = 'screen' | 'device';

/** One `lanBroker.users` entry as configured (hash resolved from the secrets file). */
export interface LanUser {
  username: string;
  role: LanRole;
  /** Device: the id it publishes under; absent: the username. */
  device?: string;
  /** scrypt hash; absent: the user logs in only with a client certificate. */
  passwordHash?: string;
}

export type AclDecision = { ok: true } | { ok: false; reason: string };

export class LanTopicAcl {
  private readonly rootLevels: string[];

  /** `root`: the box's topic root, e.g. "edge/v1/bv-test/lab-01". */
  constructor(readonly root: string) {
    this.rootLevels = root.split('/');
  }

  /** The subtree a device user writes: `<root>/dev/<device>`; null for a screen. */
  ownSubtree(user: LanUser): string | null {
    return user.role === 'device' ? `${this.root}/dev/${user.device ?? user.username}` : null;
  }

  /**
   * A filter is granted when it can match only topics in the box's tree: one under the root,
   * or a wildcard that covers it (`#`, `edge/+/…`). On this broker every topic a client can
   * see is in that tree (clients publish only under their own id, the box only under its
   * root, and a leading wildcard never matches `$SYS`), so `#` reads exactly the box's tree.
   * Anything else (another facility or box, `$SYS/…`) is refused.
   */
  subscribeAllowed(filter: string): AclDecision {
    if (filter.startsWith('$')) return { ok: false, reason: 'system topics ($…) are not readable' };
    const levels = filter.split('/');
    for (let i = 0; i < this.rootLevels.length; i++) {
      const level = levels[i];
      if (level === '#') return { ok: true };
      if (level === undefined) return { ok: false, reason: `not under ${this.root}/` };
      if (level !== '+' && level !== this.rootLevels[i]) return { ok: false, reason: `not under ${this.root}/` };
    }
    return { ok: true };
  }

  /** A client publish: only a device, only under its own subtree. */
  publishAllowed(user: LanUser, topic: string): AclDecision {
    const own = this.ownSubtree(user);
    if (!own) return { ok: false, reason: 'a screen user is read-only' };
    if (topic === own || topic.startsWith(`${own}/`)) return { ok: true };
    return { ok: false, reason: `device "${user.username}" publishes only under ${own}/` };
  }
}

/**
 * Retained messages clients leave on the broker, counted per user: each may keep at most
 * `maxMessages` topics and `maxBytes` (topic + payload) retained, so the broker's memory is
 * bounded by the number of configured users. An empty retained payload deletes (always allowed).
 */
export class RetainedQuota {
  private readonly byUser = new Map<string, Map<string, number>>();

  constructor(private readonly limits: { maxMessages: number; maxBytes: number }) {}

  admit(username: string, topic: string, payloadBytes: number): AclDecision {
    const held = this.byUser.get(username) ?? new Map<string, number>();
    if (payloadBytes === 0) {
      held.delete(topic);
      return { ok: true };
    }
    const size = Buffer.byteLength(topic) + payloadBytes;
    const others = [...held.entries()].filter(([t]) => t !== topic);
    if (others.length + 1 > this.limits.maxMessages)
      return { ok: false, reason: `already ${others.length} retained messages (retained.maxMessagesPerUser ${this.limits.maxMessages})` };
    const bytes = others.reduce((sum, [, b]) => sum + b, 0) + size;
    if (bytes > this.limits.maxBytes)
      return { ok: false, reason: `retained messages would take ${bytes} bytes (retained.maxBytesPerUser ${this.limits.maxBytes})` };
    held.set(topic, size);
    this.byUser.set(username, held);
    return { ok: true };
  }

  /** For status and tests: retained messages and bytes held per user. */
  usage(): Record<string, { messages: number; bytes: number }> {
    return Object.fromEntries([...this.byUser].map(([user, held]) => [user, { messages: held.size, bytes: [...held.values()].reduce((a, b) => a + b, 0) }]));
  }
}

import type { Socket } from 'node:net';
import { RefusalLog } from '../net/refusalLog.ts';
import { TLSSocket } from 'node:tls';
import { Aedes, type AuthenticateError, type AuthErrorCode, type Client } from 'aedes';
import type { Logger } from 'pino';
import { GuardedListener, type ListenerLimits, type RefusalReason } from '../net/guardedListener.ts';
import { PeerAllowList, unmapIpv4 } from '../net/peers.ts';
import type { TlsServerSettings } from '../net/tls.ts';
import { LanTopicAcl, RetainedQuota, type LanUser } from './lanAcl.ts';
import { LanAuthenticator } from './lanAuth.ts';
import { watchPacketSizes } from './packetSizeGuard.ts';

/** `lanBroker:` as configured (config/fragments/lanBroker.schema.json; defaults filled by the loader). */
export interface LanBrokerConfig {
  enabled: boolean;
  host: string;
  port: number;
  healthIntervalSeconds: number;
  allowedPeers?: string[];
  limits?: Partial<ListenerLimits>;
  users?: LanUser[];
  maxPacketBytes?: number;
  connectTimeoutSeconds?: number;
  retained?: { maxMessagesPerUser?: number; maxBytesPerUser?: number };
  tls?: TlsServerSettings & { port: number };
}

export interface LanBrokerContext {
  /** The box's topic root, e.g. "edge/v1/bv-test/lab-01": the only tree on this broker. */
  root: string;
  /** Ids of the box's own devices: their `dev/<id>/state` is the box's, no user may take the id. */
  boxDeviceIds: readonly string[];
  log: Logger;
}

export type LanRefusal = 'login' | 'publish' | 'subscribe' | 'retained' | 'packet-size';

export class LanBrokerConfigError extends Error {}

const DEFAULT_LIMITS: ListenerLimits = { maxConnections: 16, maxConnectionsPerPeer: 4, idleSeconds: 3600 };

/**
 * The embedded MQTT broker for the department LAN: call screens, LED boards and the kiosk
 * subscribe here. It never bridges outward; the province uplink is a separate client.
 *
 * Every client logs in (LanAuthenticator); topics are checked by LanTopicAcl (screens read,
 * devices write only under their own id, the box's topics are the box's alone: it publishes
 * in-process, which aedes does not pass through authorizePublish); packets, retained messages,
 * connections and silent sockets are bounded. Plain MQTT and, optionally, MQTT over TLS on a
 * second port, both through a GuardedListener (allowedPeers, limits).
 */
export class LanBroker {
  private broker: Aedes | null = null;
  private readonly listeners: GuardedListener[] = [];
  private readonly acl: LanTopicAcl;
  private readonly auth: LanAuthenticator;
  private readonly quota: RetainedQuota;
  private readonly principals = new WeakMap<Client, LanUser>();
  private readonly refusalLog: RefusalLog;
  readonly refused: Record<LanRefusal, number> = { login: 0, publish: 0, subscribe: 0, retained: 0, 'packet-size': 0 };

  constructor(
    private readonly config: LanBrokerConfig,
    private readonly context: LanBrokerContext,
  ) {
    this.refusalLog = new RefusalLog(context.log);
    const users = config.users ?? [];
    const byDevice = new Map<string, string>();
    for (const u of users) {
      if (u.role !== 'device') continue;
      const id = u.device ?? u.username;
      if (context.boxDeviceIds.includes(id))
        throw new LanBrokerConfigError(
          `lanBroker.users "${u.username}": device "${id}" is one of this box's own devices; its topics are the box's (choose another id)`,
        );
      const other = byDevice.get(id);
      if (other) throw new LanBrokerConfigError(`lanBroker.users "${u.username}" and "${other}" both publish as device "${id}"`);
      byDevice.set(id, u.username);
    }
    const names = users.map((u) => u.username);
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice) throw new LanBrokerConfigError(`lanBroker.users: "${twice}" is listed twice`);
    this.acl = new LanTopicAcl(context.root);
    this.auth = new LanAuthenticator(users);
    this.quota = new RetainedQuota({ maxMessages: config.retained?.maxMessagesPerUser ?? 16, maxBytes: config.retained?.maxBytesPerUser ?? 65_536 });
  }

  async start(): Promise<void> {
    const c = this.config;
    const log = this.context.log;
    const broker = await Aedes.createBroker({
      connectTimeout: (c.connectTimeoutSeconds ?? 10) * 1000,
      // Per connection, each packet up to maxPacketBytes: packets held while the login is checked,
      // and QoS 2 publishes held until their PUBREL (aedes' defaults, 42 and 1000, allow 64 MB).
      queueLimit: 16,
      maxInflightInbound: 16,
      // No sessions kept for absent clients: their queued messages would grow without bound.
      preConnect: (_client, packet, done) => {
        (packet as { clean: boolean }).clean = true;
        done(null, true);
      },
      authenticate: (client, username, password, done) => void this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => done(this.authorizePublish(client, packet.topic, packet.retain, packet.payload)),
      authorizeSubscribe: (client, sub, done) => {
        const decision = this.acl.subscribeAllowed(sub.topic);
        if (decision.ok) return done(null, sub);
        this.refuse('subscribe', this.who(client), `subscription to "${clip(sub.topic)}" refused (SUBACK 0x80): ${decision.reason}`);
        done(null, null);
      },
      // Defence in depth: nothing outside the box's tree reaches a client.
      authorizeForward: (_client, packet) => (packet.topic.startsWith(`${this.acl.root}/`) ? packet : null),
    });
    broker.on('clientError', (client, err) => log.debug({ client: client.id, reason: err.message }, 'LAN MQTT client error'));
    broker.on('connectionError', (client, err) =>
      log.debug({ peer: remoteOf(client.conn as Socket), reason: err.message }, 'LAN MQTT connection closed before login'),
    );
    this.broker = broker;

    const allow = new PeerAllowList(c.allowedPeers);
    const limits: ListenerLimits = { ...DEFAULT_LIMITS, ...c.limits };
    const onConnection = (socket: Socket): void => this.accept(socket);
    this.listeners.push(new GuardedListener({ name: 'LAN MQTT broker', host: c.host, port: c.port, allow, limits, log, onConnection }));
    if (c.tls) {
      const { port, ...tls } = c.tls;
      this.listeners.push(new GuardedListener({ name: 'LAN MQTT broker (TLS)', host: c.host, port, allow, limits, tls, log, onConnection }));
    }
    try {
      for (const l of this.listeners) await l.start();
    } catch (err) {
      await this.stop();
      throw err;
    }
    if ((c.users ?? []).length === 0)
      log.warn('lanBroker.users is empty: every MQTT client is refused (add users with hashes from `edge-agent hash-password`)');
    log.info(
      { host: c.host, port: this.address.port, ...(c.tls ? { tlsPort: this.tlsAddress?.port } : {}), users: (c.users ?? []).length },
      'LAN MQTT broker listening',
    );
  }

  get address(): { host: string; port: number } {
    return this.listeners[0]?.address ?? { host: this.config.host, port: this.config.port };
  }

  /** The TLS listener's address, when one is configured. */
  get tlsAddress(): { host: string; port: number } | null {
    return this.listeners[1]?.address ?? null;
  }

  /** Connections the listeners refused before MQTT (unlisted peer, caps, failed TLS handshake), per listener. */
  get connectionsRefused(): { plain: Record<RefusalReason, number>; tls: Record<RefusalReason, number> | null } {
    return { plain: { ...this.listeners[0]!.refused }, tls: this.listeners[1] ? { ...this.listeners[1].refused } : null };
  }

  /** Retained messages clients hold, per user (bounded by `retained`). */
  get retainedUsage(): Record<string, { messages: number; bytes: number }> {
    return this.quota.usage();
  }

  /** The retained messages the broker holds now, by topic (what a new subscriber would be told). */
  async retained(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const persistence = (
      this.broker as unknown as { persistence?: { createRetainedStream(pattern: string): AsyncIterable<{ topic: string; payload: Buffer }> } } | null
    )?.persistence;
    if (!persistence) return out;
    for await (const packet of persistence.createRetainedStream('#')) out.set(packet.topic, packet.payload.toString());
    return out;
  }

  /** The box's own publication (in-process: not subject to the clients' ACL), only in its tree. */
  publish(topic: string, payload: unknown, retain = false): Promise<void> {
    const broker = this.broker;
    if (!broker) return Promise.resolve();
    if (!topic.startsWith(`${this.acl.root}/`)) return Promise.reject(new Error(`topic ${topic} is outside the box's tree ${this.acl.root}/`));
    const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
    return new Promise((resolve, reject) =>
      broker.publish({ cmd: 'publish', topic, payload: Buffer.from(body), qos: 1, retain, dup: false }, (err) => (err ? reject(err) : resolve())),
    );
  }

  async stop(): Promise<void> {
    const broker = this.broker;
    this.broker = null;
    const listeners = this.listeners.splice(0);
    await Promise.all(listeners.map((l) => l.stop()));
    await new Promise<void>((r) => (broker ? broker.close(() => r()) : r()));
    for (const l of listeners) l.destroyAll();
  }

  /** A connection the GuardedListener admitted (after its TLS handshake, on the TLS port). */
  private accept(socket: Socket): void {
    const broker = this.broker;
    if (!broker) return void socket.destroy();
    const max = this.config.maxPacketBytes ?? 65_536;
    watchPacketSizes(socket, max, (declared) => {
      this.refuse(
        'packet-size',
        `peer ${remoteOf(socket)}`,
        declared === null ? 'malformed packet length: connection closed' : `packet of ${declared} bytes over maxPacketBytes ${max}: connection closed`,
      );
      socket.destroy();
    });
    broker.handle(socket);
  }

  private async authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): Promise<void> {
    const conn = client.conn as Socket;
    const remote = remoteOf(conn);
    const outcome = await this.auth
      .login({ remote, username, password, certificateCn: verifiedCn(conn) })
      .catch((err: Error) => ({ ok: false as const, code: 5 as const, reason: `login check failed: ${err.message}` }));
    if (!outcome.ok) {
      this.refuse('login', `peer ${remote}`, `login refused (CONNACK ${outcome.code}): ${outcome.reason}`, String(outcome.code));
      return done(Object.assign(new Error(outcome.reason), { returnCode: outcome.code as AuthErrorCode }), null);
    }
    this.principals.set(client, outcome.user);
    // Client ids are per user: one user cannot take over (disconnect) another's session by reusing its id.
    (client as { id: string }).id = `${outcome.user.username}:${client.id}`;
    this.context.log.debug({ user: outcome.user.username, via: outcome.via, peer: remote }, 'LAN MQTT client logged in');
    done(null, true);
  }

  /** null: allowed; an Error closes the connection (MQTT 3.1.1 has no refusal for a PUBLISH). */
  private authorizePublish(client: Client | null, topic: string, retain: boolean, payload: Buffer | string): Error | null {
    const user = client ? this.principals.get(client) : undefined;
    if (!client || !user) return new Error('publish without a logged-in user');
    const decision = this.acl.publishAllowed(user, topic);
    if (!decision.ok) {
      this.refuse('publish', `user ${user.username}`, `publish to "${clip(topic)}" refused, connection closed: ${decision.reason}`);
      return new Error(decision.reason);
    }
    if (retain) {
      const admitted = this.quota.admit(user.username, topic, Buffer.byteLength(payload));
      if (!admitted.ok) {
        this.refuse('retained', `user ${user.username}`, `retained publish to "${clip(topic)}" refused, connection closed: ${admitted.reason}`);
        return new Error(admitted.reason);
      }
    }
    return null;
  }

  private who(client: Client): string {
    const user = this.principals.get(client);
    return user ? `user ${user.username}` : `peer ${remoteOf(client.conn as Socket)}`;
  }

  /** Counted always; logged once per kind, client (and variant) per window. */
  private refuse(kind: LanRefusal, who: string, detail: string, variant = ''): void {
    this.refused[kind]++;
    this.refusalLog.warn(`${kind} ${who} ${variant}`, { listener: 'LAN MQTT broker', refusal: kind, who }, detail);
  }
}

function remoteOf(socket: Socket): string {
  return unmapIpv4(socket.remoteAddress ?? '?');
}

/** The CN of a client certificate the TLS handshake verified against the listener's `ca`. */
function verifiedCn(conn: Socket): string | undefined {
  if (!(conn instanceof TLSSocket) || !conn.authorized) return undefined;
  const cn = conn.getPeerCertificate().subject?.CN as string | string[] | undefined;
  return Array.isArray(cn) ? cn[0] : cn;
}

/** Topics in log lines come from clients: bounded. */
function clip(topic: string): string {
  return topic.length > 200 ? `${topic.slice(0, 200)}…` : topic;
}

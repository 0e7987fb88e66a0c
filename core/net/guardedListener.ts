import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { Clock } from '../contract/clock.ts';
import { type PeerAllowList, unmapIpv4 } from './peers.ts';
import { connectionsRefused, LISTENER_REFUSAL_WINDOW_MS, RefusalLog } from './refusalLog.ts';
import { serverTlsOptions, type TlsServerSettings } from './tls.ts';

/** Connection bounds every listener has (config `limits:` under the listener). */
export interface ListenerLimits {
  /** Connections at once from all peers together. */
  maxConnections: number;
  /** Connections at once from one address. */
  maxConnectionsPerPeer: number;
  /** A connection that sends nothing for this long is closed (0: never). */
  idleSeconds: number;
}

export type RefusalReason = 'not-allowed' | 'too-many-from-peer' | 'too-many' | 'tls-handshake';

/** How a summary line names each reason. */
const REASON_TEXT: Record<RefusalReason, string> = {
  'not-allowed': 'not on the allow-list',
  'too-many-from-peer': 'over maxConnectionsPerPeer',
  'too-many': 'over maxConnections',
  'tls-handshake': 'TLS handshake failed',
};

export interface GuardedListenerOptions {
  /** For logs: "HL7 listener", "ASTM listener"… */
  name: string;
  host: string;
  port: number;
  allow: PeerAllowList;
  limits: ListenerLimits;
  tls?: TlsServerSettings;
  log: Logger;
  /** A connection that passed the checks (a TLSSocket once its handshake finished, with tls). */
  onConnection(socket: Socket | TLSSocket): void;
  /** Counted and shown by the driver (status, alarms). */
  onRefused?(reason: RefusalReason, remote: string): void;
  /** A connection closed for idleness (before `close`). */
  onIdle?(socket: Socket): void;
  /** Times the refusal log's windows (tests use a manual clock). */
  clock?: Clock;
}

/** A connection older than this without a byte may be closed to admit a new one from its peer. */
const EVICTABLE_IDLE_MS = 2_000;

interface Tracked {
  socket: Socket;
  remote: string;
  lastByteMs: number;
}

/**
 * A TCP (or TLS) listener that admits only allow-listed peers, within per-peer and total
 * connection caps, and closes idle connections. When a peer is at its cap, its longest-idle
 * connection makes room for the new one: a device that lost its link (a stale half-open
 * socket) always gets back in, and one peer's sockets can never lock out another's.
 */
export class GuardedListener {
  private server: Server | null = null;
  private readonly live = new Set<Tracked>();
  private readonly refusalLog: RefusalLog;
  /** Admitted TCP connections whose TLS handshake has not finished, by remote address:port. */
  private readonly pendingHandshakes = new Map<string, Tracked>();
  readonly refused: Record<RefusalReason, number> = { 'not-allowed': 0, 'too-many-from-peer': 0, 'too-many': 0, 'tls-handshake': 0 };

  constructor(private readonly options: GuardedListenerOptions) {
    this.refusalLog = new RefusalLog(options.log, LISTENER_REFUSAL_WINDOW_MS, options.clock);
  }

  get connections(): number {
    return this.live.size;
  }

  get address(): { host: string; port: number } {
    const a = this.server?.address();
    return { host: this.options.host, port: a && typeof a === 'object' ? a.port : this.options.port };
  }

  get tls(): boolean {
    return this.options.tls !== undefined;
  }

  async start(): Promise<void> {
    const o = this.options;
    let server: Server;
    if (o.tls) {
      const tlsServer = createTlsServer(serverTlsOptions(o.tls), (socket) => {
        // Once TLS owns the raw socket only the TLS socket sees bytes: watch that one for idleness.
        const tracked = this.pendingHandshakes.get(`${socket.remoteAddress}:${socket.remotePort}`);
        if (tracked) {
          this.pendingHandshakes.delete(`${socket.remoteAddress}:${socket.remotePort}`);
          tracked.socket = socket;
          this.watch(tracked);
        }
        o.onConnection(socket);
      });
      // Checks on the raw TCP connection, before any handshake work is spent on a stranger.
      tlsServer.on('connection', (socket: Socket) => {
        const tracked = this.admit(socket);
        if (!tracked) return;
        const key = `${socket.remoteAddress}:${socket.remotePort}`;
        this.pendingHandshakes.set(key, tracked);
        socket.once('close', () => this.pendingHandshakes.delete(key));
      });
      tlsServer.on('tlsClientError', (err, socket) => {
        this.refuse('tls-handshake', unmapIpv4(socket.remoteAddress ?? '?'), err.message);
        socket.destroy();
      });
      server = tlsServer;
    } else {
      server = createTcpServer((socket) => {
        const tracked = this.admit(socket);
        if (!tracked) return;
        this.watch(tracked);
        o.onConnection(socket);
      });
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    if (o.allow.any)
      o.log.warn(
        { listener: o.name, address: `${o.host}:${this.address.port}` },
        "this listener admits any address (allowedPeers: [any]); list the devices' addresses instead",
      );
  }

  /** Stops accepting; open connections stay (the driver finishes and closes them). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    this.refusalLog.close(); // the counts of the last minute are written, not lost
  }

  /** Closes every open connection (after the driver finished what it had in flight). */
  destroyAll(): void {
    for (const t of this.live) t.socket.destroy();
  }

  /** The tracked connection when the socket is admitted; otherwise it is already destroyed. */
  private admit(socket: Socket): Tracked | null {
    const o = this.options;
    const remote = unmapIpv4(socket.remoteAddress ?? '');
    if (!o.allow.allows(remote)) {
      socket.destroy();
      this.refuse('not-allowed', remote, `not in allowedPeers (${o.allow})`);
      return null;
    }
    const now = Date.now();
    const fromPeer = [...this.live].filter((t) => t.remote === remote);
    if (fromPeer.length >= o.limits.maxConnectionsPerPeer && !this.evictIdlest(fromPeer, now)) {
      socket.destroy();
      this.refuse('too-many-from-peer', remote, `already ${fromPeer.length} busy connections from this address (maxConnectionsPerPeer)`);
      return null;
    }
    if (this.live.size >= o.limits.maxConnections && !this.evictIdlest(this.busiestPeersConnections(), now)) {
      socket.destroy();
      this.refuse('too-many', remote, `already ${this.live.size} busy connections (maxConnections)`);
      return null;
    }
    const tracked: Tracked = { socket, remote, lastByteMs: now };
    this.live.add(tracked);
    socket.once('close', () => this.live.delete(tracked));
    return tracked;
  }

  /** Activity and idle close on the socket that carries the bytes (the TLS socket, with TLS). */
  private watch(tracked: Tracked): void {
    const { socket } = tracked;
    const o = this.options;
    socket.on('data', () => void (tracked.lastByteMs = Date.now()));
    if (o.limits.idleSeconds > 0) {
      socket.setTimeout(o.limits.idleSeconds * 1000);
      socket.on('timeout', () => {
        o.log.info({ listener: o.name, peer: tracked.remote, idleSeconds: o.limits.idleSeconds }, 'closed an idle connection');
        o.onIdle?.(socket);
        socket.destroy();
      });
    }
  }

  /** The connections of the address holding most of them (whom a full listener takes room from). */
  private busiestPeersConnections(): Tracked[] {
    const byPeer = new Map<string, Tracked[]>();
    for (const t of this.live) byPeer.set(t.remote, [...(byPeer.get(t.remote) ?? []), t]);
    return [...byPeer.values()].sort((a, b) => b.length - a.length)[0] ?? [];
  }

  private evictIdlest(candidates: Tracked[], now: number): boolean {
    const idlest = candidates.filter((t) => now - t.lastByteMs >= EVICTABLE_IDLE_MS).sort((a, b) => a.lastByteMs - b.lastByteMs)[0];
    if (!idlest) return false;
    this.options.log.info(
      { listener: this.options.name, peer: idlest.remote, idleMs: now - idlest.lastByteMs },
      'closed the longest-idle connection to admit a new one',
    );
    this.live.delete(idlest);
    idlest.socket.destroy();
    return true;
  }

  private refuse(reason: RefusalReason, remote: string, detail: string): void {
    this.refused[reason]++;
    this.options.onRefused?.(reason, remote);
    this.refusalLog.warn(
      `${reason} ${remote}`,
      { listener: this.options.name, peer: remote, reason },
      `connection refused: ${detail}`,
      connectionsRefused(remote, REASON_TEXT[reason]),
    );
  }
}

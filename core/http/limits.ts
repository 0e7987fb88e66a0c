import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { PeerAllowList, unmapIpv4 } from '../net/peers.ts';
import { connectionsRefused, LISTENER_REFUSAL_WINDOW_MS, RefusalLog } from '../net/refusalLog.ts';
import { serverTlsOptions, type TlsServerSettings } from '../net/tls.ts';
import type { HttpLimits } from './settings.ts';

/**
 * Body limits for routes (fastify `bodyLimit`), in bytes. Routes that set none get
 * `http.limits.bodyKB` (1 MB by default).
 *   login:  the login form (a user name and a password)
 *   small:  kiosk and counter actions (a few short fields)
 *   config: the configuration text (validate, apply)
 */
export const routeLimits = {
  login: 4 * 1024,
  small: 16 * 1024,
  config: 1024 * 1024,
} as const;

/** The box's own browsers (kiosk, call screen on the box) are always admitted, and not counted in `maxConnections`. */
const THE_BOX = ['127.0.0.1', '::1'];

/**
 * Connection bounds of the HTTP server: only allowed addresses (the box itself always), at
 * most `maxConnectionsPerPeer` from one address and `maxConnections` from the LAN in all, so
 * one PC's flood never locks out another PC, and the LAN's never the kiosk on the box.
 * Refused sockets are closed at once.
 */
export class ConnectionGuard {
  private readonly perPeer = new Map<string, number>();
  /** Like every other listener's: a refused address's first connection in full, then a summary a minute. */
  private readonly refusals: RefusalLog;
  readonly refused = { 'not-allowed': 0, 'too-many-from-peer': 0, 'too-many': 0 };

  constructor(
    private readonly allow: PeerAllowList,
    private readonly limits: Pick<HttpLimits, 'maxConnections' | 'maxConnectionsPerPeer'>,
    log: Logger,
  ) {
    this.refusals = new RefusalLog(log, LISTENER_REFUSAL_WINDOW_MS);
  }

  /** Writes the refusal summaries still pending (the server closed). */
  close(): void {
    this.refusals.close();
  }

  /** The allow-list from `http.allowedPeers` (absent: any; empty: the box only), with the box itself always in it. */
  static allowList(entries: string[] | undefined): PeerAllowList {
    const list = entries ?? ['any'];
    return new PeerAllowList(list.length === 0 ? [] : [...new Set([...list, ...THE_BOX])]);
  }

  /** Connections open from the LAN (the box's own not counted). */
  get open(): number {
    let n = 0;
    for (const [peer, c] of this.perPeer) if (!THE_BOX.includes(peer)) n += c;
    return n;
  }

  attach(server: Server): void {
    server.on('connection', (socket: Socket) => this.admit(socket));
  }

  private admit(socket: Socket): void {
    const remote = unmapIpv4(socket.remoteAddress ?? '');
    if (!this.allow.allows(remote)) return this.refuse(socket, 'not-allowed', remote, `not in http.allowedPeers (${this.allow})`);
    const mine = this.perPeer.get(remote) ?? 0;
    if (mine >= this.limits.maxConnectionsPerPeer)
      return this.refuse(socket, 'too-many-from-peer', remote, `already ${mine} connections from this address (http.limits.maxConnectionsPerPeer)`);
    if (!THE_BOX.includes(remote) && this.open >= this.limits.maxConnections)
      return this.refuse(socket, 'too-many', remote, `already ${this.open} connections (http.limits.maxConnections)`);
    this.perPeer.set(remote, mine + 1);
    socket.once('close', () => {
      const left = (this.perPeer.get(remote) ?? 1) - 1;
      if (left > 0) this.perPeer.set(remote, left);
      else this.perPeer.delete(remote);
    });
  }

  private refuse(socket: Socket, reason: keyof ConnectionGuard['refused'], remote: string, detail: string): void {
    socket.destroy();
    this.refused[reason]++;
    this.refusals.warn(`${reason} ${remote}`, { peer: remote, reason }, `HTTP connection refused: ${detail}`, connectionsRefused(remote, detail));
  }
}

type Handler = RequestListener<typeof IncomingMessage, typeof ServerResponse>;

const STARTED = Symbol('started a request');

/**
 * An HTTP or HTTPS server with the request and header timeouts of `limits`, guarded by `guard`.
 * Node's header timeout starts with the first byte of a request: a connection that never sends
 * one is closed by a timer of its own after the same time (with TLS, once the handshake, itself
 * bounded, is done).
 */
export function createGuardedServer(handler: Handler, limits: HttpLimits, guard: ConnectionGuard, tls?: TlsServerSettings): Server {
  // Timeouts are checked every second (Node's default: every 30 s).
  const common = { connectionsCheckingInterval: 1000 };
  const server = tls ? createHttpsServer({ ...serverTlsOptions(tls), ...common }, handler) : createHttpServer(common, handler);
  // Slow senders (one byte a second) cannot hold a connection forever.
  server.headersTimeout = limits.headersTimeoutSeconds * 1000;
  server.requestTimeout = limits.requestTimeoutSeconds * 1000;
  server.keepAliveTimeout = limits.keepAliveSeconds * 1000;
  server.maxHeadersCount = 100;
  guard.attach(server);
  const mark = (req: IncomingMessage) => void ((req.socket as Socket & { [STARTED]?: boolean })[STARTED] = true);
  server.on('request', mark);
  server.on('upgrade', mark);
  server.on(tls ? 'secureConnection' : 'connection', (socket: Socket & { [STARTED]?: boolean }) => {
    const timer = setTimeout(() => !socket[STARTED] && socket.destroy(), server.headersTimeout);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  });
  return server;
}

import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyRequest } from 'fastify';
import { boxNames } from '../net/certs.ts';

/** "Box.local:8080" → "box.local"; "[::1]:8080" → "::1"; undefined when it is not a host at all. */
export function hostnameOf(hostHeader: string): string | undefined {
  const h = hostHeader.trim().toLowerCase();
  const bracketed = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(h);
  if (bracketed) return bracketed[1];
  const plain = /^([a-z0-9._-]+?)\.?(?::\d{1,5})?$/.exec(h);
  return plain?.[1];
}

/** DNS names and addresses in a server certificate (what staff PCs may type to reach the box). */
function certificateNames(certPath: string | undefined): string[] {
  if (!certPath) return [];
  try {
    const san = new X509Certificate(readFileSync(certPath)).subjectAltName ?? '';
    return san
      .split(',')
      .map((s) => s.trim())
      .map((s) => /^(DNS|IP Address):(.+)$/.exec(s)?.[2] ?? '')
      .filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * The names the box answers to: its host name, every interface address, localhost, the
 * listening address, the names in its TLS certificate and `http.allowedHosts`. A request whose
 * Host header names anything else was sent to another name that resolves here (DNS rebinding:
 * a web page's own name pointed at the box) and is refused.
 */
export class AllowedHosts {
  private readonly names: Set<string>;

  constructor(options: { listenHost: string; extra?: string[]; certificate?: string }) {
    const listen = options.listenHost === '0.0.0.0' || options.listenHost === '::' ? [] : [options.listenHost];
    this.names = new Set(
      [...boxNames(), 'localhost', '127.0.0.1', '::1', ...listen, ...certificateNames(options.certificate), ...(options.extra ?? [])]
        .map((n) => hostnameOf(n.includes(':') && !n.startsWith('[') ? `[${n}]` : n))
        .filter((n): n is string => n !== undefined),
    );
  }

  /** Absent Host (HTTP/1.0 tools) is not a browser and passes; a browser always sends one. */
  allows(hostHeader: string | undefined): boolean {
    if (hostHeader === undefined) return true;
    const name = hostnameOf(hostHeader);
    return name !== undefined && this.names.has(name);
  }

  toString(): string {
    return [...this.names].join(', ');
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** A request that changes something, or opens a WebSocket (which a page could open cross-site). */
export function isWriteLike(req: FastifyRequest): boolean {
  return !SAFE_METHODS.has(req.method) || (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
}

/**
 * Why a browser request did not come from the box's own pages, or undefined when it did: the
 * Origin (or, without one, the Referer's origin) must be this scheme and the Host the request
 * came to. `required`: a missing Origin and Referer is refused too (a cookie-authenticated
 * write; browsers always send Origin there). Scripts with HTTP Basic send neither and pass.
 */
export function foreignOrigin(req: FastifyRequest, required: boolean): string | undefined {
  const host = req.headers.host;
  if (!host) return 'the request names no Host';
  const scheme = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  const own = `${scheme}://${host.toLowerCase()}`;
  const origin = req.headers.origin;
  if (typeof origin === 'string') return origin.toLowerCase() === own ? undefined : `it came from the page of ${origin.slice(0, 100)}, not from ${own}`;
  const referer = req.headers.referer;
  if (typeof referer === 'string') {
    try {
      const from = new URL(referer).origin.toLowerCase();
      return from === own ? undefined : `it came from a page of ${from.slice(0, 100)}, not from ${own}`;
    } catch {
      return 'its Referer is not a URL';
    }
  }
  return required ? 'it carries neither Origin nor Referer' : undefined;
}

import { statSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { clientAddress } from './audit.ts';
import type { AllowedHosts } from './origin.ts';

/**
 * The box's pages load only their own files: no inline script or style, no framing, no
 * plugins. WebSockets and fetches go to the box itself ('self' covers ws: and wss: there).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "media-src 'self'",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // Same-origin requests keep their Origin and Referer (the write check needs them); other sites learn nothing.
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=()',
};

/** What may be served from the page folders: page assets, never sources (.ts), maps or dot files. */
export const PAGE_ASSET_EXTENSIONS = new Set(['.html', '.js', '.css', '.png', '.svg', '.ico', '.webp', '.jpg', '.wav', '.ogg', '.woff2']);

/**
 * For @fastify/static's `allowedPath`: a page asset, or a folder (its index.html; without the
 * final slash it is redirected), never `..` or a dot file.
 */
export function isPageAsset(pathname: string, root: string): boolean {
  const segments = pathname.split('/');
  if (segments.some((s) => s === '..' || s.startsWith('.') || s.includes('\\'))) return false;
  if (pathname.endsWith('/')) return true;
  const ext = extname(pathname).toLowerCase();
  if (ext) return PAGE_ASSET_EXTENSIONS.has(ext);
  try {
    return statSync(join(root, pathname)).isDirectory();
  } catch {
    return false; // absent, or a path through a file (ENOTDIR)
  }
}

/**
 * Global hooks: the Host check (DNS rebinding) first of all, then the security headers on
 * every answer (pages, API, errors, 404s), and `no-store` on API answers (personal data stays
 * out of the browser cache).
 */
export function registerPageSecurity(app: FastifyInstance, hosts: AllowedHosts): void {
  const refusedLogged = new Set<string>();
  app.addHook('onRequest', async (req, reply) => {
    if (hosts.allows(req.headers.host)) return;
    const name = String(req.headers.host).slice(0, 100);
    if (refusedLogged.size < 1000 && !refusedLogged.has(name)) {
      refusedLogged.add(name);
      req.log.warn(
        { host: name, peer: clientAddress(req) },
        'request for a host name the box does not answer to refused (DNS rebinding?); add it to http.allowedHosts if it is the box',
      );
    }
    await reply.code(403).send({ error: `this box does not answer to the host name "${name}"; if it is the box's name, add it to http.allowedHosts` });
  });
  app.addHook('onSend', async (req, reply, payload) => {
    for (const [k, v] of Object.entries(HEADERS)) if (!reply.hasHeader(k)) reply.header(k, v);
    if (req.url.startsWith('/api/') && !reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });
}

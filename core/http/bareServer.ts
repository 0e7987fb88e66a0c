import { networkInterfaces } from 'node:os';
import type { Server } from 'node:http';

/**
 * What the pages served before the agent runs (configuration problems, first-run setup) share:
 * they listen on the LAN with no configuration to read limits from, so the bounds are fixed.
 */
export const BARE_LIMITS = { maxConnections: 32, headersTimeoutMs: 10_000, requestTimeoutMs: 15_000, keepAliveTimeoutMs: 5_000 } as const;

export function listenBounded(server: Server, host: string, port: number): Promise<Server> {
  server.maxConnections = BARE_LIMITS.maxConnections;
  server.headersTimeout = BARE_LIMITS.headersTimeoutMs;
  server.requestTimeout = BARE_LIMITS.requestTimeoutMs;
  server.keepAliveTimeout = BARE_LIMITS.keepAliveTimeoutMs;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** The addresses staff type into a browser: loopback and each LAN IPv4 address for a wildcard bind. */
export function pageUrls(host: string, port: number): string[] {
  if (host !== '0.0.0.0' && host !== '::' && host !== '') return [`http://${host.includes(':') ? `[${host}]` : host}:${port}/`];
  const lan = Object.values(networkInterfaces())
    .flat()
    .filter((a) => a && a.family === 'IPv4' && !a.internal)
    .map((a) => `http://${a!.address}:${port}/`);
  return [`http://127.0.0.1:${port}/`, ...lan];
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

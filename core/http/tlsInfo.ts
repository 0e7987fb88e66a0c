import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { certificateFingerprint } from '../net/tls.ts';
import type { HttpSettings } from './settings.ts';

export interface TlsInfo {
  https: boolean;
  /** SHA-256 of the box CA ("AB:CD:…"), for staff PCs to compare before they trust it. */
  caFingerprint: string | null;
  /** Plain HTTP for browsers on the box itself, when TLS is on. */
  loopbackPort: number | null;
}

/** The CA file: `http.caCert` (relative to the configuration file), else `tls.ca`, else `ca.crt` beside `tls.cert`. */
export function boxCaFile(http: HttpSettings, configFile: string): string | undefined {
  if (http.caCert) return isAbsolute(http.caCert) ? http.caCert : resolve(dirname(configFile), http.caCert);
  if (http.tls?.ca) return http.tls.ca;
  if (http.tls) {
    const beside = join(dirname(http.tls.cert), 'ca.crt');
    if (existsSync(beside)) return beside;
  }
  return undefined;
}

export function tlsInfo(http: HttpSettings, configFile: string, log: Logger): TlsInfo {
  const file = boxCaFile(http, configFile);
  let caFingerprint: string | null = null;
  if (file) {
    try {
      caFingerprint = certificateFingerprint(file);
    } catch (err) {
      log.warn({ file, reason: (err as Error).message }, 'the box CA certificate cannot be read; the console shows no fingerprint');
    }
  }
  return { https: http.tls !== undefined, caFingerprint, loopbackPort: http.tls && http.loopbackPort ? http.loopbackPort : null };
}

/** GET /api/tls, open: the login page shows the fingerprint before anyone types a password. */
export function registerTlsInfo(app: FastifyInstance, info: TlsInfo): void {
  app.get(
    '/api/tls',
    {
      schema: {
        tags: ['auth'],
        summary: 'Whether the console is on HTTPS and the SHA-256 fingerprint of the box CA that staff PCs trust',
        response: {
          200: {
            type: 'object',
            properties: { https: { type: 'boolean' }, caFingerprint: { type: ['string', 'null'] }, loopbackPort: { type: ['integer', 'null'] } },
          },
        },
      },
    },
    async () => info,
  );
}

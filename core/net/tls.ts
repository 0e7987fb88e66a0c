import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TlsOptions } from 'node:tls';

/**
 * TLS for a listener, as configured (`tls:` under the listener): PEM files, paths relative to
 * the configuration file (the loader resolves them). With `ca`, clients may present a
 * certificate signed by it; `requireClientCert` refuses those that do not (IHE ATNA style).
 */
export interface TlsServerSettings {
  cert: string;
  key: string;
  ca?: string;
  requireClientCert?: boolean;
}

export class TlsConfigError extends Error {}

/** Reads the PEM files now, so a missing or unreadable one fails the start with its path. */
export function serverTlsOptions(settings: TlsServerSettings): TlsOptions {
  const read = (what: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new TlsConfigError(
        `cannot read the TLS ${what} ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)}); \`edge-agent certs init\` makes a box CA and server certificate`,
      );
    }
  };
  const options: TlsOptions = {
    cert: read('certificate', settings.cert),
    key: read('key', settings.key),
    minVersion: 'TLSv1.2',
    handshakeTimeout: 10_000,
  };
  if (settings.ca) {
    options.ca = read('CA certificate', settings.ca);
    options.requestCert = true;
    options.rejectUnauthorized = settings.requireClientCert === true;
  } else if (settings.requireClientCert) {
    throw new TlsConfigError("requireClientCert needs `ca`: the CA that signs the clients' certificates");
  }
  return options;
}

/** SHA-256 fingerprint as staff PCs show it ("AB:CD:…"), of the first certificate in a PEM file. */
export function certificateFingerprint(pemPath: string): string {
  return new X509Certificate(readFileSync(pemPath)).fingerprint256;
}

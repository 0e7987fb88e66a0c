import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { certificateFingerprint } from './tls.ts';

/**
 * A box CA and certificates signed by it, made with Debian's openssl for a box that has none
 * (`edge-agent certs init`). Staff PCs trust the CA once (its fingerprint is shown in the
 * console); the server certificate names the box's host name and addresses.
 */
export interface BoxCertificates {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  caFingerprint: string;
  /** False when a CA was already there and kept. */
  created: boolean;
}

export class CertificateError extends Error {}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.error) throw new CertificateError(`openssl is needed to make certificates (${r.error.message}); install Debian's openssl package`);
  if (r.status !== 0) throw new CertificateError(`openssl ${args[0]} failed: ${r.stderr.trim().split('\n').pop()}`);
}

/** The box's own names: host name, localhost, and every address of its interfaces. */
export function boxNames(): string[] {
  const addresses = Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined)
    .map((a) => a.address);
  return [...new Set([hostname(), 'localhost', '127.0.0.1', '::1', ...addresses])];
}

function subjectAltName(names: string[]): string {
  return names.map((n) => (/^[0-9.]+$/.test(n) || n.includes(':') ? `IP:${n}` : `DNS:${n}`)).join(',');
}

/** Issues `<name>.crt`/`<name>.key` in `dir`, signed by the box CA there. */
function issue(dir: string, name: string, commonName: string, usage: 'serverAuth' | 'clientAuth', altNames: string[], days: number): void {
  const work = mkdtempSync(join(tmpdir(), 'edge-certs-'));
  try {
    const ext = join(work, 'ext.cnf');
    writeFileSync(
      ext,
      `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=${usage}\n${altNames.length ? `subjectAltName=${subjectAltName(altNames)}\n` : ''}`,
    );
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(dir, `${name}.key`)], dir);
    chmodSync(join(dir, `${name}.key`), 0o600);
    openssl(['req', '-new', '-key', `${name}.key`, '-subj', `/O=edge-agent/CN=${commonName.replace(/[/=]/g, '-')}`, '-out', join(work, 'req.csr')], dir);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        join(work, 'req.csr'),
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        String(days),
        '-sha256',
        '-extfile',
        ext,
        '-out',
        `${name}.crt`,
      ],
      dir,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Makes the CA (when absent) and a server certificate for `names` in `dir`. */
export function initBoxCertificates(options: { dir: string; boxId: string; names?: string[]; days?: number }): BoxCertificates {
  const { dir, boxId } = options;
  const days = options.days ?? 825;
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  const created = !existsSync(join(dir, 'ca.crt'));
  if (created) {
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key'], dir);
    chmodSync(join(dir, 'ca.key'), 0o600);
    openssl(
      [
        'req',
        '-x509',
        '-new',
        '-key',
        'ca.key',
        '-sha256',
        '-days',
        '3650',
        '-subj',
        `/O=edge-agent/CN=${boxId.replace(/[/=]/g, '-')} box CA`,
        '-addext',
        'basicConstraints=critical,CA:TRUE,pathlen:0',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
        '-out',
        'ca.crt',
      ],
      dir,
    );
  }
  if (created || !existsSync(join(dir, 'server.crt'))) issue(dir, 'server', boxId, 'serverAuth', options.names ?? boxNames(), days);
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    caFingerprint: certificateFingerprint(join(dir, 'ca.crt')),
    created,
  };
}

/** A client certificate (an LIS, a modality, a staff PC) signed by the box CA: `<name>.crt`/`<name>.key`. */
export function issueClientCertificate(dir: string, name: string, days = 825): { cert: string; key: string } {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) throw new CertificateError(`"${name}": a client name is letters, digits, '.', '_' and '-'`);
  if (!existsSync(join(dir, 'ca.key'))) throw new CertificateError(`no box CA in ${dir}: run \`edge-agent certs init\` first`);
  issue(dir, `client-${name}`, name, 'clientAuth', [], days);
  return { cert: join(dir, `client-${name}.crt`), key: join(dir, `client-${name}.key`) };
}

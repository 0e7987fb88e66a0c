import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import type { DocumentSigner } from './files.ts';

export interface TestPki {
  dir: string;
  cscaPem: string;
  cscaPath: string;
  signer: DocumentSigner;
  /** Deletes the temp dir (keys and certificates). */
  remove(): void;
}

/** A test CSCA and document signer (ECDSA P-256), made with the openssl CLI into a temp dir. */
export function generateTestPki(dir = mkdtempSync(join(tmpdir(), 'cccd-pki-'))): TestPki {
  const run = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  try {
    run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'csca.key');
    run(
      'req',
      '-x509',
      '-new',
      '-key',
      'csca.key',
      '-subj',
      '/C=VN/O=Test only/CN=Test CSCA (not valid)',
      '-days',
      '3650',
      '-sha256',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-out',
      'csca.pem',
    );
    run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ds.key.sec1');
    run('pkcs8', '-topk8', '-nocrypt', '-in', 'ds.key.sec1', '-out', 'ds.key');
    run('req', '-new', '-key', 'ds.key', '-subj', '/C=VN/O=Test only/CN=Test Document Signer', '-out', 'ds.csr');
    writeFileSync(join(dir, 'ds.ext'), 'keyUsage=critical,digitalSignature\n');
    run(
      'x509',
      '-req',
      '-in',
      'ds.csr',
      '-CA',
      'csca.pem',
      '-CAkey',
      'csca.key',
      '-CAcreateserial',
      '-days',
      '3650',
      '-sha256',
      '-extfile',
      'ds.ext',
      '-out',
      'ds.pem',
    );
  } catch (err) {
    throw new Error(`could not make the test CSCA with openssl (Debian package "openssl"): ${(err as Error).message}`);
  }
  const cscaPem = readFileSync(join(dir, 'csca.pem'), 'utf8');
  return {
    dir,
    cscaPem,
    cscaPath: join(dir, 'csca.pem'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
    signer: { certDer: Buffer.from(new X509Certificate(readFileSync(join(dir, 'ds.pem'))).raw), keyPem: readFileSync(join(dir, 'ds.key'), 'utf8') },
  };
}

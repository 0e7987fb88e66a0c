import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../helpers/ports.ts';

/** A real Orthanc with the DICOMweb plugin on ephemeral ports, storage in a temp dir. */
export interface OrthancPeer {
  http: string;
  dicomWeb: string;
  dicomPort: number;
  user: string;
  password: string;
  /** Authenticated GET returning the body. */
  get(path: string): Promise<Buffer>;
  post(path: string, body: string): Promise<unknown>;
  stop(): Promise<void>;
}

const ORTHANC = '/usr/sbin/Orthanc';
const PLUGIN_CANDIDATES = ['/usr/share/orthanc/plugins/libOrthancDicomWeb.so', '/usr/lib/orthanc/libOrthancDicomWeb.so.1.7'];

/** `extra` is merged into Orthanc's configuration (e.g. DicomModalities for storage commitment reports). */
export async function startOrthanc(dir: string, extra: Record<string, unknown> = {}): Promise<OrthancPeer> {
  if (!existsSync(ORTHANC)) throw new Error('Orthanc is missing: install the Debian package "orthanc"');
  const plugin = PLUGIN_CANDIDATES.find((p) => existsSync(p));
  if (!plugin) throw new Error('the Orthanc DICOMweb plugin is missing: install the Debian package "orthanc-dicomweb"');
  const httpPort = await freePort();
  const dicomPort = await freePort();
  const user = 'edge';
  const password = 'pacs-secret-1';
  mkdirSync(join(dir, 'storage'), { recursive: true });
  const config = {
    Name: 'EDGE-TEST-PACS',
    StorageDirectory: join(dir, 'storage'),
    IndexDirectory: join(dir, 'storage'),
    StorageCompression: false,
    HttpPort: httpPort,
    HttpBindAddress: '127.0.0.1',
    RemoteAccessAllowed: false,
    AuthenticationEnabled: true,
    RegisteredUsers: { [user]: password },
    DicomAet: 'ORTHANC',
    DicomPort: dicomPort,
    DicomAlwaysAllowStore: true,
    DicomCheckCalledAet: false,
    Plugins: [plugin],
    DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: true },
    ConcurrentJobs: 1,
    HttpThreadsCount: 50,
    SaveJobs: false,
    ...extra,
  };
  const configPath = join(dir, 'orthanc.json');
  writeFileSync(configPath, JSON.stringify(config));
  const child: ChildProcess = spawn(ORTHANC, [configPath], { env: { ...process.env, TCP_NODELAY: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-4000);
  });
  const http = `http://127.0.0.1:${httpPort}`;
  const auth = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const get = async (path: string): Promise<Buffer> => {
    const res = await fetch(`${http}${path}`, { headers: { Authorization: auth } });
    if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status}`);
    return Buffer.from(await res.arrayBuffer());
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Orthanc exited (${child.exitCode}): ${stderr}`);
    try {
      await get('/system');
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`Orthanc did not answer within 60 s: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    http,
    dicomWeb: `${http}/dicom-web`,
    dicomPort,
    user,
    password,
    get,
    async post(path: string, body: string) {
      const res = await fetch(`${http}${path}`, { method: 'POST', body, headers: { Authorization: auth } });
      if (!res.ok) throw new Error(`POST ${path}: HTTP ${res.status}`);
      return res.json();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      }),
  };
}

/** Orthanc's id of an instance by SOP Instance UID, or undefined. */
export async function orthancInstanceId(peer: OrthancPeer, sopInstanceUid: string): Promise<string | undefined> {
  const found = (await peer.post('/tools/lookup', sopInstanceUid)) as Array<{ ID: string; Type: string }>;
  return found.find((f) => f.Type === 'Instance')?.ID;
}

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { DeviceProfileSummary } from '../contract/module.ts';
import { formatProblem } from '../config/types.ts';
import { writeConfigAtomically } from '../config/write.ts';
import { listenBounded, pageUrls } from '../http/bareServer.ts';
import { createNotifier } from '../sdNotify.ts';
import { probeDevice } from './deviceProbe.ts';
import { checkDraft, draftFiles } from './draft.ts';
import { DraftError, parseDevice, parseDraft } from './parseDraft.ts';
import { SetupCode } from './setupCode.ts';

const PAGE_DIR = fileURLToPath(new URL('../../kiosk/setup/', import.meta.url));
const PAGE_FILES: Record<string, string> = {
  '/': 'index.html',
  '/setup.js': 'setup.js',
  '/setup.css': 'setup.css',
  '/serverText.js': '../console/serverText.js',
  '/lib/page.js': '../lib/page.js',
};
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };
const MAX_BODY_BYTES = 64 * 1024;
const VN_ZONE = 'Asia/Ho_Chi_Minh';

export interface FirstRunOptions {
  configFile: string;
  /** The device models the modules offer (the lab profiles), listed per protocol on the page. */
  profiles: readonly DeviceProfileSummary[];
  host: string;
  port: number;
  log: Logger;
  /** Resolves when the agent is asked to stop. */
  until: Promise<unknown>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/**
 * A box with no configuration: a setup page on the LAN, protected by a one-time code printed
 * where only someone at the box (its screen or `journalctl -u edge-agent`) can read it. The
 * answers become a configuration checked by the same loader as any other; once saved, the
 * agent starts with it in this process. Resolves true when saved, false when stopped first.
 */
export async function runFirstRunSetup(o: FirstRunOptions): Promise<boolean> {
  const urls = pageUrls(o.host, o.port);
  const code = new SetupCode((shown) =>
    process.stderr.write(
      `\nFIRST RUN: no configuration at ${o.configFile}.\n  Open ${urls.join(' or ')} in a browser on this network\n  and enter the one-time code ${shown}\n\n`,
    ),
  );
  const log = o.log.child({ module: 'setup' });
  const dataDir = process.env.STATE_DIRECTORY ?? (existsSync('/var/lib/edge-agent') ? '/var/lib/edge-agent' : join(dirname(o.configFile), 'data'));
  let saved: () => void = () => undefined;
  const done = new Promise<boolean>((r) => (saved = () => r(true)));

  const api = async (path: string, req: IncomingMessage, body: unknown): Promise<unknown> => {
    switch (path) {
      case '/api/setup/unlock':
        return {
          profiles: o.profiles,
          // ICU lists Vietnam's zone under its old name Asia/Saigon: the name staff know comes first.
          timezones: [...new Set([VN_ZONE, ...Intl.supportedValuesOf('timeZone')])],
          defaults: {
            boxId: hostname()
              .toLowerCase()
              .replace(/[^a-z0-9_-]/g, '-')
              .slice(0, 63),
            timezone: VN_ZONE,
            dataDir,
            configFile: o.configFile,
          },
        };
      case '/api/setup/test-device':
        return probeDevice(parseDevice(body), o.port);
      case '/api/setup/check':
      case '/api/setup/save': {
        const files = await draftFiles(parseDraft(body), { dataDir, httpPort: o.port });
        const problems = checkDraft(files, o.configFile).map(formatProblem);
        if (problems.length) throw new HttpError(400, `Cấu hình còn ${problems.length} lỗi; chưa lưu gì.`, { problems });
        if (path === '/api/setup/check') return { ok: true, config: files.config };
        mkdirSync(dirname(o.configFile), { recursive: true });
        // Secrets first: a configuration that names them is only ever written once they exist.
        writeConfigAtomically(join(dirname(o.configFile), 'secrets.yaml'), files.secrets);
        writeConfigAtomically(o.configFile, files.config);
        log.info(
          { file: o.configFile, devices: (body as { devices: unknown[] }).devices.length, peer: req.socket.remoteAddress },
          'first-run configuration saved; starting the agent',
        );
        setImmediate(saved);
        return { saved: true, file: o.configFile };
      }
    }
    throw new HttpError(404, 'no such setup call');
  };

  const server = createServer((req, res) => {
    handle(req, res, code, api).catch((err) => {
      log.error({ err }, 'setup request failed');
      send(res, 500, { error: 'Lỗi bên trong khi lưu cấu hình; xem journalctl -u edge-agent.' });
    });
  });
  try {
    await listenBounded(server, o.host, o.port);
  } catch (err) {
    log.error({ err, port: o.port }, 'the setup page cannot listen; write the configuration by hand (docs/OPERATIONS.md)');
  }
  const notifier = createNotifier();
  notifier.ready(`first-run setup: open ${urls.join(' ')} (one-time code in the journal)`);
  const watchdogMs = notifier.watchdogIntervalMs();
  const pings = watchdogMs ? setInterval(() => notifier.watchdog(), watchdogMs) : null;
  const outcome = await Promise.race([done, o.until.then(() => false)]);
  if (pings) clearInterval(pings);
  notifier.close();
  await new Promise<void>((r) => server.close(() => r()));
  server.closeAllConnections();
  return outcome;
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  code: SetupCode,
  api: (path: string, req: IncomingMessage, body: unknown) => Promise<unknown>,
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]!;
  if (req.method === 'GET' && path === '/healthz') return send(res, 200, { status: 'ok' });
  if (req.method === 'GET' && path === '/readyz') return send(res, 503, { ready: false, setup: true });
  if (req.method === 'GET' && PAGE_FILES[path]) {
    const file = join(PAGE_DIR, PAGE_FILES[path]);
    res.writeHead(200, {
      'content-type': TYPES[extname(file)]!,
      'content-security-policy': "default-src 'self'; frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
    });
    res.end(readFileSync(file));
    return;
  }
  if (!path.startsWith('/api/setup/')) return send(res, 404, { error: 'Máy chưa được cấu hình: mở trang / để cấu hình lần đầu.' });
  if (req.method !== 'POST') return send(res, 405, { error: 'POST only' });
  // The code before the body: a caller without it never gets to send one.
  if (!code.check(header(req, 'x-setup-code')))
    return send(res, 401, {
      error: 'Mã dùng một lần không đúng. Xem mã trên màn hình của máy hoặc bằng journalctl -u edge-agent (sau 10 lần sai, máy in ra mã mới).',
    });
  try {
    const body = await readJson(req);
    send(res, 200, await api(path, req, body));
  } catch (err) {
    if (err instanceof DraftError) return send(res, 400, { error: err.message });
    if (!(err instanceof HttpError)) throw err;
    send(res, err.status, { error: err.message, ...err.extra });
  }
}

function readJson(req: IncomingMessage): Promise<unknown> {
  if (!(req.headers['content-type'] ?? '').startsWith('application/json'))
    return Promise.reject(new HttpError(415, 'send JSON (content-type: application/json)'));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const tooLarge = () => new HttpError(413, `the request is larger than ${MAX_BODY_BYTES} bytes`);
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return reject(tooLarge());
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(tooLarge());
        req.pause();
      } else chunks.push(c);
    });
    req.on('end', () => {
      try {
        resolve(chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {});
      } catch {
        reject(new HttpError(400, 'the body is not valid JSON'));
      }
    });
    req.on('error', reject);
  });
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  // A refused request's unread body is not waited for: answer, then close the connection.
  const refused = status === 401 || status === 413;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...(refused ? { connection: 'close' } : {}) });
  res.end(JSON.stringify(body));
  if (refused) res.once('finish', () => res.req.destroy());
}

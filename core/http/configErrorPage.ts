import { readdirSync, statSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { basename, dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError, loadConfig } from '../config/load.ts';
import { formatProblem, type ConfigProblem } from '../config/types.ts';
import type { Notifier } from '../sdNotify.ts';
import { viProblemMessage } from '../../kiosk/console/serverText.js';
import { escapeHtml, listenBounded, pageUrls } from './bareServer.ts';

const POLL_MS = 2_000;

export interface WaitForConfigOptions {
  configFile: string;
  host: string;
  port: number;
  problems: ConfigProblem[];
  log: Logger;
  notifier: Notifier;
  /** Resolves when the agent is asked to stop. */
  until: Promise<unknown>;
}

/**
 * The agent cannot start on an invalid configuration, but IT staff with only a browser still
 * need to see why, and systemd must not restart-loop the box meanwhile: the problems are served
 * on the console's port (LAN), systemd hears READY with a degraded status and its watchdog
 * pings, and the files are watched, so the agent comes up by itself once they are fixed.
 * Resolves true when the configuration became valid, false when stopped first.
 */
export async function waitForValidConfig(o: WaitForConfigOptions): Promise<boolean> {
  let problems = o.problems;
  const report = (): void => {
    process.stderr.write(`configuration is invalid; the agent will not start:\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}\n`);
    o.log.error({ problems: problems.length, file: o.configFile }, 'configuration is invalid; waiting for it to be fixed');
  };
  report();
  const server = await listenBounded(
    createServer((req, res) => answer(req.url ?? '/', req.headers.accept ?? '', problems, res)),
    o.host,
    o.port,
  ).catch((err: Error) => {
    o.log.error({ err }, 'cannot serve the configuration problems page');
    return null;
  });
  const where = server ? pageUrls(o.host, o.port).join(' ') : '(the page could not listen)';
  if (server) process.stderr.write(`the problems are shown on ${where}\n`);
  const status = () => `degraded: configuration invalid (${problems.length} problem(s)); fix ${o.configFile}, problems on ${where}`;
  o.notifier.ready(status());
  const watchdogMs = o.notifier.watchdogIntervalMs();
  const pings = watchdogMs ? setInterval(() => o.notifier.watchdog(), watchdogMs) : null;

  let seen = filesSignature(o.configFile);
  let poll: NodeJS.Timeout | undefined;
  const fixed = new Promise<boolean>((resolve) => {
    poll = setInterval(() => {
      const now = filesSignature(o.configFile);
      if (now === seen) return;
      seen = now;
      try {
        loadConfig(o.configFile);
        o.log.info({ file: o.configFile }, 'configuration is valid now; starting the agent');
        resolve(true);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        problems = err.problems;
        report();
        o.notifier.status(status());
      }
    }, POLL_MS);
  });
  const outcome = await Promise.race([fixed, o.until.then(() => false)]);
  clearInterval(poll);
  if (pings) clearInterval(pings);
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server?.closeAllConnections();
  o.notifier.close();
  return outcome;
}

/**
 * Names, sizes and times of the YAML files beside the configuration: a save by an editor, a
 * rename over the file or a changed secrets file all change it (polled, so it also works where
 * inotify does not, e.g. a bind mount).
 */
function filesSignature(configFile: string): string {
  const dir = dirname(configFile);
  try {
    return readdirSync(dir)
      .filter((n) => /\.ya?ml$/.test(n) || n === basename(configFile))
      .sort()
      .map((n) => {
        const s = statSync(join(dir, n), { throwIfNoEntry: false });
        return s ? `${n}:${s.size}:${s.mtimeMs}` : n;
      })
      .join('|');
  } catch {
    return '';
  }
}

function answer(url: string, accept: string, problems: ConfigProblem[], res: ServerResponse): void {
  res.statusCode = url === '/healthz' ? 200 : 503;
  if (accept.includes('application/json') || url.startsWith('/api') || url.startsWith('/readyz')) {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ error: 'configuration is invalid', problems: problems.map(formatProblem) }));
    return;
  }
  res.setHeader('content-type', 'text/html; charset=utf-8');
  res.setHeader('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'");
  res.end(problemsPage(problems));
}

/** The problem as staff read it: where, then the message in Vietnamese (the console's own rendering). */
const vietnamese = (p: ConfigProblem): string => `${p.file}:${p.line}:${p.column} ${p.field || '(top level)'}: ${viProblemMessage(p.message)}`;

function problemsPage(problems: ConfigProblem[]): string {
  // Refreshes itself: once the file is fixed the agent starts on this port and the console appears.
  return `<!doctype html><html lang="vi"><meta charset="utf-8"><meta http-equiv="refresh" content="5"><title>Cấu hình lỗi</title>
<style>body{font:18px system-ui,sans-serif;margin:2rem;max-width:70rem}li{margin:.5rem 0;font-family:monospace}h1{color:#a00}</style>
<h1>Cấu hình không hợp lệ: hệ thống chưa chạy</h1>
<p>Sửa ${problems.length} lỗi dưới đây trong tệp cấu hình (kiểm tra bằng <code>edge-agent check-config TỆP</code>). Khi tệp đúng, hệ thống tự khởi động và trang này chuyển sang bảng điều khiển; không cần khởi động lại.</p>
<p lang="en">Configuration is invalid: fix these problems; the agent starts by itself once the file is valid.</p>
<ol>${problems.map((p) => `<li>${escapeHtml(vietnamese(p))}<br><small lang="en">${escapeHtml(formatProblem(p))}</small></li>`).join('')}</ol></html>`;
}

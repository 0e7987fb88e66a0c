import Database from 'better-sqlite3';
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config/load.ts';
import { formatProblem } from './config/types.ts';
import type { EdgeModule } from './contract/module.ts';

/**
 * Box maintenance commands that work on the configured store: `backup` (SQLite's online backup
 * of the journal, plus the blob files, checked by opening the copy), `restore`, `data-dir`,
 * `check-start` (start the agent, wait until it is ready, stop: what the package's upgrade runs)
 * and `voice` (generate the call screen's voice clips).
 */
const USAGE = `usage:
  edge-agent backup [--config FILE] DIR       copy the journal (online, the agent may run) and its files to DIR
  edge-agent restore [--config FILE] DIR      put a backup back (the agent must be stopped)
  edge-agent data-dir [--config FILE]         print the store's directory
  edge-agent check-start [--config FILE]      start the agent, wait until it is ready, stop (exit 0 when it is)
  edge-agent voice [--force]                  generate the call screen's voice clips (espeak-ng)
`;

const DEFAULT_CONFIG = process.env.EDGE_CONFIG ?? '/etc/edge-agent/config.yaml';

function dataDir(configFile: string): string {
  return loadConfig(configFile).config.box.dataDir;
}

/** Files under `from` copied to `to` when missing there (blobs are named by their hash: never changed). */
function copyMissing(from: string, to: string): number {
  if (!existsSync(from)) return 0;
  mkdirSync(to, { recursive: true });
  let copied = 0;
  for (const name of readdirSync(from)) {
    const src = join(from, name);
    const dst = join(to, name);
    if (statSync(src).isDirectory()) copied += copyMissing(src, dst);
    else if (!name.startsWith('.') && !existsSync(dst)) {
      copyFileSync(src, `${dst}.part`);
      renameSync(`${dst}.part`, dst);
      copied++;
    }
  }
  return copied;
}

/** Opens a copy and checks it is a whole database with a journal; returns its entry count. */
function verify(file: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const check = db.pragma('integrity_check', { simple: true });
    if (check !== 'ok') throw new Error(`${file}: integrity check says ${String(check)}`);
    return (db.prepare('SELECT COUNT(*) AS n FROM journal').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

export async function backup(configFile: string, dir: string): Promise<{ entries: number; files: number; bytes: number }> {
  const source = join(dataDir(configFile), 'journal.db');
  if (!existsSync(source)) throw new Error(`no journal at ${source}`);
  mkdirSync(dir, { recursive: true });
  const target = join(dir, 'journal.db');
  const db = new Database(source, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    // SQLite's online backup: a consistent copy while the agent goes on writing.
    await db.backup(`${target}.part`);
  } finally {
    db.close();
  }
  renameSync(`${target}.part`, target);
  const entries = verify(target);
  const files = copyMissing(join(dataDir(configFile), 'blobs'), join(dir, 'blobs'));
  return { entries, files, bytes: statSync(target).size };
}

async function agentAnswers(configFile: string): Promise<boolean> {
  const { http } = loadConfig(configFile).config;
  const host = http.host === '0.0.0.0' || http.host === '::' ? '127.0.0.1' : http.host;
  const scheme = http.tls ? 'https' : 'http';
  return fetch(`${scheme}://${host.includes(':') ? `[${host}]` : host}:${http.port}/healthz`, { signal: AbortSignal.timeout(2000) }).then(
    () => true,
    (err: Error & { cause?: { code?: string } }) => err.cause?.code !== 'ECONNREFUSED' && !/ECONNREFUSED/.test(String(err.cause ?? err)),
  );
}

export async function restore(configFile: string, dir: string, force: boolean): Promise<{ entries: number; files: number }> {
  const backupDb = join(dir, 'journal.db');
  const entries = verify(backupDb);
  if (!force && (await agentAnswers(configFile))) throw new Error('the agent is running: stop it first (systemctl stop edge-agent), or pass --force');
  const data = dataDir(configFile);
  mkdirSync(data, { recursive: true });
  copyFileSync(backupDb, join(data, 'journal.db.restore'));
  for (const suffix of ['-wal', '-shm']) rmSync(join(data, `journal.db${suffix}`), { force: true });
  renameSync(join(data, 'journal.db.restore'), join(data, 'journal.db'));
  const files = copyMissing(join(dir, 'blobs'), join(data, 'blobs'));
  return { entries, files };
}

export async function runMaintenance(command: string, argv: string[], modules: readonly EdgeModule[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { config: { type: 'string', default: DEFAULT_CONFIG }, force: { type: 'boolean', default: false } },
  });
  const config = values.config!;
  try {
    switch (command) {
      case 'backup': {
        if (!positionals[0]) break;
        const r = await backup(config, positionals[0]);
        process.stdout.write(
          `backup in ${positionals[0]}: ${r.entries} journal entries (${Math.round(r.bytes / 1024)} KB, integrity ok), ${r.files} new files\n`,
        );
        return 0;
      }
      case 'restore': {
        if (!positionals[0]) break;
        const r = await restore(config, positionals[0], values.force === true);
        process.stdout.write(`restored ${r.entries} journal entries and ${r.files} files; start the agent again (systemctl start edge-agent)\n`);
        return 0;
      }
      case 'data-dir':
        process.stdout.write(`${dataDir(config)}\n`);
        return 0;
      case 'check-start': {
        const { checkStart } = await import('./checkStart.ts');
        return checkStart(config, modules);
      }
      case 'voice': {
        const { generateClips, CLIPS_DIR } = await import('../kiosk/audio/generate.ts');
        const m = await generateClips({ force: values.force === true });
        process.stdout.write(`${Object.keys(m.clips).length} voice clips in ${CLIPS_DIR}\n`);
        return 0;
      }
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const p of err.problems) process.stderr.write(`${formatProblem(p)}\n`);
      return 1;
    }
    process.stderr.write(`${command}: ${(err as Error).message}\n`);
    return 1;
  }
  process.stderr.write(USAGE);
  return 2;
}

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { stringify } from 'yaml';
import { ConfigError, loadConfig } from '../config/load.ts';
import type { ConfigProblem } from '../config/types.ts';
import { hashPassword } from '../http/password.ts';

/** What the first-run page sends: the few answers a department box needs to start. */
export interface SetupDraft {
  box: { id: string; facility: string; name?: string; department?: string; timezone: string };
  adminPassword: string;
  province?: { url: string; username?: string; password?: string; topicRoot?: string };
  lis?: { host: string; port: number };
  pacs?: { host: string; port: number; calledAe: string };
  devices: SetupDevice[];
}

export type SetupDevice =
  | {
      kind: 'lab-astm';
      id: string;
      profile: string;
      transport: 'serial' | 'tcp-server' | 'tcp-client';
      path?: string;
      baudRate?: number;
      host?: string;
      port?: number;
      analyzer?: string;
    }
  | { kind: 'lab-hl7'; id: string; profile: string; port: number; analyzer: string }
  | { kind: 'modality'; id: string; aeTitle: string; port: number; callerAe: string; callerAddress: string }
  | { kind: 'printer'; id: string; transport: 'tcp' | 'device'; host?: string; port?: number; path?: string }
  | { kind: 'card-reader'; id: string; readerName?: string };

export interface DraftFiles {
  config: string;
  secrets: string;
}

/** Marks a secret in the object before it is written as YAML; replaced by a `!secret name` tag. */
const secret = (name: string): string => `__secret__${name}__`;

/** The device block as the configuration file spells it; the listen address is the LAN's. */
function deviceBlock(d: SetupDevice, routes: { lis: boolean; pacs: boolean }): Record<string, unknown> {
  const lab = routes.lis ? { routes: ['lis'] } : {};
  switch (d.kind) {
    case 'lab-astm':
      if (d.transport === 'serial')
        return { driver: 'astm', profile: d.profile, transport: 'serial', path: d.path, ...(d.baudRate ? { baudRate: d.baudRate } : {}), ...lab };
      if (d.transport === 'tcp-client') return { driver: 'astm', profile: d.profile, transport: 'tcp-client', host: d.host, port: d.port, ...lab };
      return { driver: 'astm', profile: d.profile, transport: 'tcp-server', host: '0.0.0.0', port: d.port, allowedPeers: [d.analyzer], ...lab };
    case 'lab-hl7':
      return { driver: 'hl7-mllp', profile: d.profile, host: '0.0.0.0', port: d.port, allowedPeers: [d.analyzer], ...lab };
    case 'modality':
      return {
        driver: 'dicom-scp',
        host: '0.0.0.0',
        port: d.port,
        aeTitle: d.aeTitle,
        allowedCallers: [{ aeTitle: d.callerAe, addresses: [d.callerAddress] }],
        ...(routes.pacs ? { routes: ['pacs'] } : {}),
      };
    case 'printer':
      return d.transport === 'device'
        ? { driver: 'escpos-printer', transport: 'device', path: d.path }
        : { driver: 'escpos-printer', transport: 'tcp', host: d.host, port: d.port ?? 9100 };
    case 'card-reader':
      return { driver: 'cccd-reader', readerName: d.readerName ?? '' };
  }
}

/** The configuration and secrets files for a draft; the admin password is stored as its hash only. */
export async function draftFiles(draft: SetupDraft, opts: { dataDir: string; httpPort: number }): Promise<DraftFiles> {
  const secrets: Record<string, string> = { admin_password_hash: await hashPassword(draft.adminPassword) };
  const destinations: Record<string, unknown> = {};
  if (draft.lis) destinations.lis = { type: 'hl7-mllp-lis', host: draft.lis.host, port: draft.lis.port, sendingFacility: draft.box.facility };
  if (draft.pacs) destinations.pacs = { type: 'dicom-cstore', host: draft.pacs.host, port: draft.pacs.port, calledAe: draft.pacs.calledAe };
  let province: Record<string, unknown> | undefined;
  if (draft.province?.url) {
    province = { url: draft.province.url, topicRoot: draft.province.topicRoot || 'vn-health' };
    if (draft.province.username) province.username = draft.province.username;
    if (draft.province.password) {
      secrets.province_password = draft.province.password;
      province.password = secret('province_password');
    }
  }
  const devices = Object.fromEntries(draft.devices.map((d) => [d.id, deviceBlock(d, { lis: Boolean(draft.lis), pacs: Boolean(draft.pacs) })]));
  const config = {
    version: 1,
    secretsFile: 'secrets.yaml',
    box: {
      id: draft.box.id,
      facility: draft.box.facility,
      ...(draft.box.name ? { name: draft.box.name } : {}),
      ...(draft.box.department ? { department: draft.box.department } : {}),
      timezone: draft.box.timezone,
      dataDir: opts.dataDir,
    },
    http: { host: '0.0.0.0', port: opts.httpPort, admin: { user: 'admin', passwordHash: secret('admin_password_hash') } },
    ...(province ? { province } : {}),
    destinations,
    devices,
  };
  const header = `# Written by the first-run setup page on ${new Date().toISOString()}. Every other field: docs/OPERATIONS.md.\n`;
  const text = stringify(config, { lineWidth: 0 }).replace(/(["']?)__secret__([a-z_]+)__\1/g, '!secret $2');
  return { config: header + text, secrets: stringify(secrets) };
}

/**
 * Checks the files with the same loader the agent starts with, in a scratch directory (the
 * secrets file beside the configuration as it will be); nothing is written where it counts.
 */
export function checkDraft(files: DraftFiles, configFile: string): ConfigProblem[] {
  const dir = mkdtempSync(join(tmpdir(), 'edge-setup-'));
  const file = join(dir, basename(configFile));
  try {
    writeFileSync(join(dir, 'secrets.yaml'), files.secrets, { mode: 0o600 });
    writeFileSync(file, files.config);
    loadConfig(file);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // Point at the file it will become, not the scratch copy.
    return err.problems.map((p) => ({ ...p, file: p.file.startsWith(dir) ? configFile : p.file }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

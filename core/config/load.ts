import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020, { type ErrorObject } from 'ajv/dist/2020.js';
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { ConfigLocator } from '../contract/module.ts';
import { driverFactories, registeredModules } from '../registry.ts';
import { PeerAllowList } from '../net/peers.ts';
import { formatProblem, formatWarning, type AgentConfig, type ConfigProblem } from './types.ts';

export const SCHEMA_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '../../config/schema.json');
const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as Record<string, unknown>;

// One schema drives validation, defaults, error messages, editor completion and console forms.
// passContext: the `x-secret` keyword sees which values came from `!secret` (SecretPaths).
// code.optimize off: the schema compiles in half the time (~250 ms less at every start); it
// validates one file, once, so the slower validation does not matter.
const ajv = new Ajv2020.default({ allErrors: true, useDefaults: true, strict: false, passContext: true, code: { optimize: false } });
ajv.addKeyword({ keyword: 'x-secret', schemaType: ['boolean', 'string'], errors: true, validate: checkSecretField });
const validate = ajv.compile(schema);

/** JSON pointers (as Ajv's instancePath) of every value the `!secret` tag supplied. */
interface SecretPaths {
  secretPaths: Set<string>;
}

const pointer = (path: Array<string | number>): string => path.map((p) => `/${String(p).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');

/**
 * `"x-secret": true` on a property: its value must come from the secrets file (`!secret NAME`),
 * never be written inline where anyone who reads the configuration (the console, a diagnostics
 * bundle, a backup) sees it. `"x-secret": "<pattern>"` on a map (HTTP headers): the entries whose
 * name matches, case-insensitively, must be secrets.
 */
function checkSecretField(this: SecretPaths | undefined, marker: boolean | string, data: unknown, _parent?: unknown, cxt?: { instancePath: string }): boolean {
  const secret = this?.secretPaths;
  const at = cxt?.instancePath ?? '';
  if (!secret || marker === false) return true;
  const inline = (path: string) => !secret.has(path);
  const problems: Array<{ instancePath: string }> = [];
  if (marker === true) {
    if (data !== undefined && data !== null && data !== '' && inline(at)) problems.push({ instancePath: at });
  } else if (data && typeof data === 'object' && !Array.isArray(data)) {
    const names = new RegExp(marker, 'i');
    for (const key of Object.keys(data)) if (names.test(key) && inline(`${at}${pointer([key])}`)) problems.push({ instancePath: `${at}${pointer([key])}` });
  }
  if (problems.length === 0) return true;
  (checkSecretField as unknown as { errors: unknown[] }).errors = problems.map((p) => ({
    keyword: 'x-secret',
    instancePath: p.instancePath,
    params: {},
    message: 'is a secret written inline',
  }));
  return false;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(`configuration has ${problems.length} problem(s)`);
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  /**
   * Checking a shipped example (`check-config --example`): its secrets may come from the
   * `.example` file beside the one it names, and placeholders there are warnings, not problems.
   */
  example?: boolean;
}

export interface LoadedConfig {
  config: AgentConfig;
  file: string;
  /** Directory the file lives in: relative paths in it resolve from here. */
  baseDir: string;
  /** What deserves a look but does not stop the agent (check-config prints them, the agent logs them). */
  warnings: ConfigProblem[];
}

/** Marker the YAML `!secret name` tag leaves until the secrets file is read. */
class SecretRef {
  constructor(readonly name: string) {}
}

const secretTag = { tag: '!secret', resolve: (value: string) => new SecretRef(value) };

interface ParsedFile {
  doc: Document.Parsed;
  lines: LineCounter;
  file: string;
}

function parseYamlFile(file: string, problems: ConfigProblem[]): ParsedFile | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    problems.push({ file, line: 1, column: 1, field: '', message: `cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)})` });
    return null;
  }
  return parseYamlText(text, file, problems);
}

function parseYamlText(text: string, file: string, problems: ConfigProblem[]): ParsedFile | null {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, customTags: [secretTag], prettyErrors: false, uniqueKeys: true });
  for (const e of [...doc.errors, ...doc.warnings]) {
    const pos = lines.linePos(e.pos[0]);
    problems.push({ file, line: pos.line, column: pos.col, field: '', message: `YAML: ${e.message.split('\n')[0]}` });
  }
  return doc.errors.length ? null : { doc, lines, file };
}

/** Reads, resolves secrets in, and validates a configuration file. Throws ConfigError with every problem. */
export function loadConfig(file: string, options: LoadOptions = {}): LoadedConfig {
  const absolute = resolve(file);
  const problems: ConfigProblem[] = [];
  const parsed = parseYamlFile(absolute, problems);
  if (!parsed) throw new ConfigError(problems);
  return validateParsed(parsed, problems, options);
}

/**
 * What `edge-agent check-config FILE [--example]` prints: every problem, or the warnings and OK.
 * `ok` is false when the agent would refuse to start with this file.
 */
export function checkConfigReport(file: string, options: LoadOptions = {}): { ok: boolean; lines: string[] } {
  try {
    const { config, file: absolute, warnings } = loadConfig(file, options);
    const counts = `${Object.keys(config.devices).length} devices, ${Object.keys(config.destinations).length} destinations${warnings.length ? `, ${warnings.length} warning(s)` : ''}`;
    return { ok: true, lines: [...warnings.map(formatWarning), `${absolute}: OK (${counts})`] };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { ok: false, lines: err.problems.map(formatProblem) };
  }
}

/**
 * Validates configuration text as if it were `file` (secrets resolved next to it), without
 * writing anything: the console checks an edit before applying it.
 */
export function loadConfigText(text: string, file: string, options: LoadOptions = {}): LoadedConfig {
  const absolute = resolve(file);
  const problems: ConfigProblem[] = [];
  const parsed = parseYamlText(text, absolute, problems);
  if (!parsed) throw new ConfigError(problems);
  return validateParsed(parsed, problems, options);
}

function validateParsed(parsed: ParsedFile, problems: ConfigProblem[], options: LoadOptions): LoadedConfig {
  const absolute = parsed.file;
  const raw = parsed.doc.toJS() as Record<string, unknown> | null;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([{ file: absolute, line: 1, column: 1, field: '', message: 'the file must be a YAML mapping (key: value lines)' }]);
  }
  if (!('version' in raw) && !('box' in raw) && Object.keys(raw).length > 0 && Object.values(raw).every((v) => v === null || typeof v !== 'object')) {
    // check-config run on secrets.yaml instead of the configuration: one sentence, not one per key.
    throw new ConfigError([
      {
        file: absolute,
        line: 1,
        column: 1,
        field: '',
        message: 'this looks like a secrets file (the values "!secret NAME" refers to), not a configuration: check the configuration that uses it',
      },
    ]);
  }
  const baseDir = dirname(absolute);
  const warnings: ConfigProblem[] = [];
  const secrets = resolveSecrets(raw, parsed, baseDir, problems, warnings, options);
  if (!validate.call({ secretPaths: secrets.found } satisfies SecretPaths, raw)) {
    for (const err of relevantErrors(validate.errors ?? [], secrets.reported)) problems.push(locate(err, parsed, raw));
  }
  problems.push(...crossCheck(raw as unknown as AgentConfig, parsed));
  problems.push(...checkListenerSecurity(raw, parsed));
  problems.push(...checkExclusiveUse(raw as unknown as AgentConfig, parsed));
  if (problems.length) throw new ConfigError(dedupe(problems));
  const config = raw as unknown as AgentConfig;
  // On a valid file only: the queue's shape is the schema's from here.
  // Each module's own warnings about its blocks (two services numbered alike at one counter…).
  const at: ConfigLocator = { locate: (path) => position(parsed, path), has: (path) => parsed.doc.hasIn(path) };
  for (const m of registeredModules) warnings.push(...(m.configWarnings?.(config, at) ?? []));
  if (!isAbsolute(config.box.dataDir)) config.box.dataDir = resolve(baseDir, config.box.dataDir);
  resolveTlsPaths(config, baseDir);
  return { config, file: absolute, baseDir, warnings };
}

/** Problems the schema cannot express: routes naming unknown destinations. */
function crossCheck(config: AgentConfig, parsed: ParsedFile): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const destinations = new Set(Object.keys(config.destinations ?? {}));
  const checkin = config.his?.checkinDestination;
  if (checkin && !destinations.has(checkin)) {
    const path = ['his', 'checkinDestination'];
    problems.push({
      ...position(parsed, path),
      field: path.join('.'),
      message: `"${checkin}" is not a destination in this file (known: ${[...destinations].join(', ') || 'none'})`,
    });
  }
  const routeLists: Array<[Array<string | number>, string[]]> = Object.entries(config.devices ?? {}).map(([id, d]) => [
    ['devices', id, 'routes'],
    d.routes ?? [],
  ]);
  if (config.queue) routeLists.push([['queue', 'routes'], config.queue.routes ?? []]);
  if (config.kiosk) routeLists.push([['kiosk', 'feedbackRoutes'], config.kiosk.feedbackRoutes ?? []]);
  for (const [base, routes] of routeLists) {
    routes.forEach((route, i) => {
      if (!destinations.has(route)) {
        const path = [...base, i];
        problems.push({
          ...position(parsed, path),
          field: path.join('.'),
          message: `route "${route}" is not a destination in this file (known: ${[...destinations].join(', ') || 'none'})`,
        });
      }
    });
  }
  return problems;
}

/** Every `allowedPeers` list anywhere in the file: each entry an address or a network the agent can match. */
function checkListenerSecurity(raw: unknown, parsed: ParsedFile): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const walk = (node: unknown, path: Array<string | number>): void => {
    if (Array.isArray(node)) return node.forEach((v, i) => walk(v, [...path, i]));
    if (!node || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node)) {
      if (k === 'allowedPeers' && Array.isArray(v)) {
        v.forEach((entry, i) => {
          try {
            new PeerAllowList([String(entry)]);
          } catch (err) {
            const at = [...path, k, i];
            problems.push({ ...position(parsed, at), field: at.join('.'), message: (err as Error).message });
          }
        });
      } else walk(v, [...path, k]);
    }
  };
  walk(raw, []);
  return problems;
}

/** Something only one part of the box can hold: a TCP port on an address, or a device file. */
interface Claim {
  /** Where it is configured (the port or path field). */
  path: Array<string | number>;
  /** Who holds it, as a field path: devices.hl7a, lanBroker.tls, http. */
  owner: string;
  kind: 'port' | 'path';
  port?: number;
  host?: string;
  devicePath?: string;
}

/** Addresses that listen on every interface: they conflict with any address on the same port. */
const EVERY_ADDRESS = new Set(['0.0.0.0', '::', '']);
const hostKey = (host: string): string => {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^::ffff:/, '');
  return h === 'localhost' ? '127.0.0.1' : h;
};

/**
 * Ports the box listens on and device files it opens, with the drivers' defaults where the file
 * writes none. Destinations and tcp-client devices connect out: they hold nothing here.
 */
function claimsOf(config: AgentConfig): Claim[] {
  const claims: Claim[] = [];
  const listen = (path: Array<string | number>, owner: string, host: unknown, port: unknown): void => {
    // Port 0 is an ephemeral port the system picks: never shared.
    if (typeof port === 'number' && port > 0) claims.push({ path, owner, kind: 'port', port, host: typeof host === 'string' ? host : '0.0.0.0' });
  };
  const http = config.http as unknown as Record<string, unknown> | undefined;
  if (http) {
    listen(['http', 'port'], 'http', http.host ?? '127.0.0.1', http.port ?? 8080);
    // With TLS, plain HTTP for the box's own browsers on loopback (core/http/settings.ts).
    if (http.tls) listen(['http', 'loopbackPort'], 'http.loopbackPort', '127.0.0.1', http.loopbackPort);
  }
  const lan = config.lanBroker as unknown as Record<string, unknown> | undefined;
  if (lan && lan.enabled !== false) {
    const host = lan.host ?? '127.0.0.1';
    listen(['lanBroker', 'port'], 'lanBroker', host, lan.port ?? 1883);
    const tls = lan.tls as Record<string, unknown> | undefined;
    if (tls) listen(['lanBroker', 'tls', 'port'], 'lanBroker.tls', host, tls.port);
  }
  // Each driver says what its device holds (its factory's `holds`, with the driver's defaults).
  for (const [id, d] of Object.entries(config.devices ?? {})) {
    if (!d || d.enabled === false) continue;
    for (const h of driverFactories.get(d.driver)?.holds?.(d as unknown as Record<string, unknown>) ?? []) {
      const owner = h.field.length > 1 ? `devices.${id}.${h.field.slice(0, -1).join('.')}` : `devices.${id}`;
      const path = ['devices', id, ...h.field];
      claims.push(h.kind === 'port' ? { path, owner, kind: 'port', port: h.port, host: h.host } : { path, owner, kind: 'path', devicePath: h.path });
    }
  }
  return claims;
}

/** Two listeners on one port (a wildcard address overlaps every address), two devices on one device file. */
function checkExclusiveUse(config: AgentConfig, parsed: ParsedFile): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const claims = claimsOf(config);
  // Where the holder is, for the person fixing the second one; a default is said as such.
  const where = (c: Claim): string => {
    if (parsed.doc.hasIn(c.path)) return located(c.path);
    return parsed.doc.hasIn(c.path.slice(0, -1)) ? `${located(c.path.slice(0, -1))}, default ${c.kind}` : `default ${c.kind}`;
  };
  const located = (path: Array<string | number>): string => {
    const at = position(parsed, path);
    return `${basename(parsed.file)}:${at.line}:${at.column}`;
  };
  claims.forEach((c, i) => {
    const written = parsed.doc.hasIn(c.path);
    const earlier = claims
      .slice(0, i)
      .find((o) =>
        c.kind === 'path'
          ? o.kind === 'path' && o.devicePath === c.devicePath
          : o.kind === 'port' &&
            o.port === c.port &&
            (EVERY_ADDRESS.has(hostKey(o.host!)) || EVERY_ADDRESS.has(hostKey(c.host!)) || hostKey(o.host!) === hostKey(c.host!)),
      );
    if (!earlier) return;
    let message: string;
    if (c.kind === 'path') message = `path ${c.devicePath!} is already used by ${earlier.owner} (${where(earlier)})`;
    else {
      const wildcard = hostKey(c.host!) !== hostKey(earlier.host!) ? [c.host!, earlier.host!].find((h) => EVERY_ADDRESS.has(hostKey(h))) : undefined;
      message = `port ${c.port!}${written ? '' : ' (default)'} is already used by ${earlier.owner} (${where(earlier)})${wildcard !== undefined ? `; ${wildcard || '(no host)'} listens on every address` : ''}`;
    }
    problems.push({ ...position(parsed, written ? c.path : c.path.slice(0, -1)), field: c.path.join('.'), message });
  });
  return problems;
}

/** TLS files (`tls: { cert, key, ca }` under any listener) are relative to the configuration file. */
function resolveTlsPaths(config: AgentConfig, baseDir: string): void {
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node)) {
      if (k === 'tls' && v && typeof v === 'object' && !Array.isArray(v)) {
        const tls = v as Record<string, unknown>;
        for (const f of ['cert', 'key', 'ca']) if (typeof tls[f] === 'string' && !isAbsolute(tls[f] as string)) tls[f] = resolve(baseDir, tls[f] as string);
      }
      walk(v);
    }
  };
  walk(config);
}

/** Where each `!secret` went, and those already reported (no value, a placeholder): their schema errors would repeat the problem. */
interface ResolvedSecrets {
  found: Set<string>;
  reported: Set<string>;
}

interface SecretUse {
  name: string;
  path: Array<string | number>;
  set(value: unknown): void;
}

/** `secrets.yaml` → `secrets.example.yaml`: the file shipped beside an example, placeholders in it. */
export const exampleOf = (file: string): string => file.replace(/(\.[^./]+)?$/, '.example$1');

/** Words people leave where a value should go ("change-me", "...output of: edge-agent hash-password..."). */
const PLACEHOLDER = /\b(change[-_ ]?me|changeit|replace[-_ ]?me|example|placeholder|todo|fixme)\b|\.\.\.|^<.*>$|^x{3,}$/i;
/** What `edge-agent hash-password` prints (core/http/password.ts): `scrypt$N$r$p$salt$hash`, base64. */
const PASSWORD_HASH = /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/;

/** Replaces each `!secret name` by its value from the secrets file; refuses placeholders there. */
function resolveSecrets(
  raw: Record<string, unknown>,
  parsed: ParsedFile,
  baseDir: string,
  problems: ConfigProblem[],
  warnings: ConfigProblem[],
  options: LoadOptions,
): ResolvedSecrets {
  const uses: SecretUse[] = [];
  const walk = (node: unknown, path: Array<string | number>): void => {
    if (!node || typeof node !== 'object') return;
    const holder = node as Record<string | number, unknown>;
    for (const key of Array.isArray(node) ? node.keys() : Object.keys(node)) {
      const value = holder[key];
      if (value instanceof SecretRef) uses.push({ name: value.name, path: [...path, key], set: (v) => (holder[key] = v) });
      else walk(value, [...path, key]);
    }
  };
  walk(raw, []);
  const found = new Set(uses.map((u) => pointer(u.path)));
  const reported = new Set<string>();
  if (uses.length === 0) return { found, reported };
  const secrets = openSecrets(raw, parsed, baseDir, uses, problems, options);
  for (const use of uses) {
    const known = secrets !== null && Object.hasOwn(secrets.values, use.name);
    if (secrets && !known)
      problems.push({ ...position(parsed, use.path), field: use.path.join('.'), message: `secret "${use.name}" is not in ${secrets.file}` });
    use.set(known ? secrets.values[use.name] : undefined);
    if (!known) reported.add(pointer(use.path));
  }
  if (secrets) for (const use of checkSecretValues(uses, secrets, problems, warnings, options)) reported.add(pointer(use.path));
  return { found, reported };
}

interface SecretsFile {
  file: string;
  parsed: ParsedFile;
  values: Record<string, unknown>;
}

/**
 * The secrets file the configuration names (`secretsFile`, default `secrets.yaml` beside it);
 * checking an example, the `.example` file beside it when it is not there. A missing file is
 * one problem that says how to make it, not one per secret.
 */
function openSecrets(
  raw: Record<string, unknown>,
  parsed: ParsedFile,
  baseDir: string,
  uses: SecretUse[],
  problems: ConfigProblem[],
  options: LoadOptions,
): SecretsFile | null {
  const named = resolve(baseDir, typeof raw.secretsFile === 'string' ? raw.secretsFile : 'secrets.yaml');
  const example = exampleOf(named);
  const file = options.example && !existsSync(named) && existsSync(example) ? example : named;
  if (!existsSync(file)) {
    const at = typeof raw.secretsFile === 'string' ? ['secretsFile'] : uses[0]!.path;
    const how = existsSync(example)
      ? `copy ${basename(example)} beside it to ${basename(file)}, put the real values in, and make each password hash with edge-agent hash-password`
      : `write it with the secrets this file names (${[...new Set(uses.map((u) => u.name))].join(', ')}) and make each password hash with edge-agent hash-password (the package's example is /usr/share/doc/edge-agent/examples/secrets.example.yaml)`;
    problems.push({ ...position(parsed, at), field: at.join('.'), message: `secrets file ${file} not found: ${how}` });
    return null;
  }
  const secrets = parseYamlFile(file, problems);
  if (!secrets) return null;
  const values = secrets.doc.toJS() as unknown;
  return { file, parsed: secrets, values: values && typeof values === 'object' && !Array.isArray(values) ? (values as Record<string, unknown>) : {} };
}

/**
 * A placeholder left in the secrets file would start a box nobody can log in to, or that sends
 * "change-me" to the province: refused where it is written (an example's are only warned about).
 * A password hash must be one `edge-agent hash-password` made.
 */
function checkSecretValues(uses: SecretUse[], secrets: SecretsFile, problems: ConfigProblem[], warnings: ConfigProblem[], options: LoadOptions): SecretUse[] {
  const seen = new Set<string>();
  const flagged = new Set<string>();
  for (const use of uses) {
    const value = secrets.values[use.name];
    if (seen.has(use.name) || typeof value !== 'string') continue;
    seen.add(use.name);
    const isHash = uses.some((u) => u.name === use.name && u.path.at(-1) === 'passwordHash');
    const placeholder = PLACEHOLDER.test(value);
    if (!placeholder && (!isHash || PASSWORD_HASH.test(value))) continue;
    flagged.add(use.name);
    const at = { ...position(secrets.parsed, [use.name]), field: use.path.join('.') };
    if (placeholder && options.example)
      warnings.push({ ...at, message: `secret "${use.name}" is a placeholder: accepted only because this is checked as an example; a box refuses it` });
    else if (isHash)
      problems.push({
        ...at,
        message: `secret "${use.name}" is not a password hash: run edge-agent hash-password, type the password, and put the line it prints here`,
      });
    else problems.push({ ...at, message: `secret "${use.name}" is a placeholder: put the real value here` });
  }
  return uses.filter((u) => flagged.has(u.name));
}

/**
 * Drops the noise Ajv adds around if/then (the branch error already says what is wrong), and
 * what it says about secrets already reported (no value, a placeholder) where they are written.
 */
function relevantErrors(errors: ErrorObject[], reported: Set<string>): ErrorObject[] {
  const aboutReported = (e: ErrorObject): boolean =>
    reported.has(e.instancePath) ||
    (e.keyword === 'required' && reported.has(`${e.instancePath}${pointer([String((e.params as { missingProperty?: unknown }).missingProperty)])}`));
  return errors.filter(
    (e) =>
      e.keyword !== 'if' &&
      !aboutReported(e) &&
      !(e.keyword === 'enum' && errors.some((o) => o !== e && o.instancePath === e.instancePath && o.keyword === 'const')),
  );
}

function locate(err: ErrorObject, parsed: ParsedFile, raw: unknown): ConfigProblem {
  const path = err.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const params = err.params as Record<string, unknown>;
  let field = path.join('.');
  let message = err.message ?? 'is invalid';
  let at: Array<string | number> = path;
  switch (err.keyword) {
    case 'required':
      field = [...path, String(params.missingProperty)].join('.');
      message = `required field "${String(params.missingProperty)}" is missing`;
      break;
    case 'additionalProperties':
    case 'unevaluatedProperties': {
      const extra = String(params.additionalProperty ?? params.unevaluatedProperty);
      field = [...path, extra].join('.');
      at = [...path, extra];
      message = `unknown field "${extra}" (check the spelling; the schema lists the allowed fields)`;
      break;
    }
    case 'enum': {
      const allowed = params.allowedValues as unknown[];
      const value = valueAt(raw, path);
      const guess =
        typeof value === 'string'
          ? closest(
              value,
              allowed.filter((v): v is string => typeof v === 'string'),
            )
          : null;
      const what = path.filter((p) => !/^\d+$/.test(p)).at(-1) ?? 'value';
      message = guess
        ? `unknown ${what} "${value as string}"; did you mean ${guess}? known: ${allowed.join(', ')}`
        : `must be one of: ${allowed.map((v) => JSON.stringify(v)).join(', ')}`;
      break;
    }
    case 'const':
      message = `must be ${JSON.stringify(params.allowedValue)}`;
      break;
    case 'pattern':
      message = `does not have the expected form (${String(params.pattern)})`;
      break;
    case 'x-secret': {
      const name = path
        .filter((p) => !/^\d+$/.test(p))
        .slice(-3)
        .join('_')
        .replace(/[^A-Za-z0-9_]/g, '_')
        .toLowerCase();
      message = `is a secret and must not be written in the configuration: put it in the secrets file and write "!secret ${name}" here`;
      break;
    }
    case 'propertyNames':
      message = `name "${String(params.propertyName)}" is not allowed: use lower-case letters, digits, - and _`;
      break;
  }
  return { ...position(parsed, at, err.keyword === 'additionalProperties' || err.keyword === 'unevaluatedProperties'), field, message };
}

function valueAt(root: unknown, path: Array<string | number>): unknown {
  let node = root;
  for (const p of path) node = node && typeof node === 'object' ? (node as Record<string, unknown>)[String(p)] : undefined;
  return node;
}

/**
 * The one allowed value a mistyped one most likely meant (README's `generic` for `generic-astm`,
 * `cobas`, `http-jsn`, a wrong case), or null when none or several are as close.
 */
export function closest(value: string, allowed: string[]): string | null {
  const v = value.toLowerCase();
  if (v.length >= 3) {
    // A part of one allowed value (generic, cobas), or one with something added (warning → warn).
    const extended = allowed.filter((a) => a.toLowerCase().includes(v) || (a.length >= 3 && v.startsWith(a.toLowerCase())));
    if (extended.length === 1) return extended[0]!;
    if (extended.length > 1) return null;
  }
  const scored = allowed.map((a) => [a, editDistance(v, a.toLowerCase())] as const).filter(([, d]) => d <= Math.min(2, Math.floor(v.length / 3)));
  const best = Math.min(...scored.map(([, d]) => d));
  const at = scored.filter(([, d]) => d === best);
  return at.length === 1 ? at[0]![0] : null;
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/** Line and column of a path in the YAML document (the key for unknown fields, else the value). */
function position(parsed: ParsedFile, path: Array<string | number>, wantKey = false): Omit<ConfigProblem, 'field' | 'message'> {
  let node: Node | null = parsed.doc.contents;
  let offset = node?.range?.[0] ?? 0;
  for (const segment of path) {
    if (!node) break;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) break;
      const key = pair.key as Node;
      offset = key.range?.[0] ?? offset;
      if (wantKey && segment === path[path.length - 1]) break;
      node = (pair.value as Node | null) ?? null;
      if (node?.range) offset = node.range[0];
    } else if ('items' in node && Array.isArray((node as { items: unknown[] }).items)) {
      const item = (node as unknown as { items: Node[] }).items[Number(segment)];
      if (!item) break;
      node = item;
      if (node.range) offset = node.range[0];
    } else break;
  }
  const pos = parsed.lines.linePos(offset);
  return { file: parsed.file, line: pos.line, column: pos.col };
}

function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.line}:${p.column}:${p.field}:${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

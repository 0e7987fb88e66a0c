/**
 * Field mapping for the generic HTTPS/JSON HIS adapter, from configuration. A request mapping is
 * `{ "<HIS field path>": "<our path>[|format]" }`; a value starting with `=` is a literal. A
 * response mapping is `{ "<our field>": "<HIS field path>" }`. Paths are dotted (`patient.cccd`,
 * `data.0.id`).
 */

export class FieldMapError extends Error {
  readonly code = 'HIS_FIELD_MAP';
}

/** Formats a HIS may want a value in (Vietnamese HIS products often use dd/mm/yyyy, 1/2 for sex). */
export const FIELD_FORMATS = ['yyyymmdd', 'dd/mm/yyyy', 'sex-MF', 'sex-12', 'string', 'number'] as const;
export type FieldFormat = (typeof FIELD_FORMATS)[number];

export function getPath(source: unknown, path: string): unknown {
  let cur: unknown = source;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

export function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = target;
  for (const part of parts.slice(0, -1)) {
    if (part === '__proto__' || part === 'constructor') throw new FieldMapError(`field path ${path} is not allowed`);
    const next = cur[part];
    if (next === null || typeof next !== 'object') cur[part] = {};
    cur = cur[part] as Record<string, unknown>;
  }
  const last = parts[parts.length - 1]!;
  if (last === '__proto__' || last === 'constructor') throw new FieldMapError(`field path ${path} is not allowed`);
  cur[last] = value;
}

export function formatValue(value: unknown, format: FieldFormat | undefined): unknown {
  if (value === undefined || value === null || !format) return value;
  const text = String(value);
  switch (format) {
    case 'yyyymmdd':
      return text.replace(/^(\d{4})-(\d{2})-(\d{2}).*$/, '$1$2$3');
    case 'dd/mm/yyyy':
      return text.replace(/^(\d{4})-(\d{2})-(\d{2}).*$/, '$3/$2/$1');
    case 'sex-MF':
      return text === 'male' ? 'M' : text === 'female' ? 'F' : 'O';
    case 'sex-12':
      // Vietnam Social Security coding: 1 male, 2 female.
      return text === 'male' ? 1 : text === 'female' ? 2 : 0;
    case 'string':
      return text;
    case 'number':
      return Number(text);
  }
}

/** Builds a HIS request body from `source` through a request mapping. */
export function mapRequest(source: unknown, mapping: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [hisPath, spec] of Object.entries(mapping)) {
    if (spec.startsWith('=')) {
      setPath(out, hisPath, spec.slice(1));
      continue;
    }
    const [path, format] = spec.split('|') as [string, string | undefined];
    if (format !== undefined && !(FIELD_FORMATS as readonly string[]).includes(format)) throw new FieldMapError(`unknown format '${format}' for ${hisPath}`);
    const value = formatValue(getPath(source, path), format as FieldFormat | undefined);
    if (value !== undefined) setPath(out, hisPath, value);
  }
  return out;
}

/** Reads our fields out of a HIS response through a response mapping; absent fields are left out. */
export function mapResponse(source: unknown, mapping: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [ours, hisPath] of Object.entries(mapping)) {
    const value = getPath(source, hisPath);
    if (value !== undefined && value !== null && value !== '') out[ours] = value;
  }
  return out;
}

/** dd/mm/yyyy or yyyymmdd (what HIS and the gateway send) → yyyy-mm-dd; ISO and anything else unchanged. */
export function isoDate(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const text = String(value).trim();
  let m = /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(text);
  if (m) return `${m[3]}-${m[2]}-${m[1]}`;
  m = /^(\d{4})(\d{2})(\d{2})$/.exec(text);
  if (m) return `${m[1]}-${m[2]}-${m[3]}`;
  return text;
}

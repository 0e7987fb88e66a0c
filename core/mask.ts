/**
 * One masking policy for personal data (Decree 13/2023), used by the logger, the diagnostics
 * bundle and anything else that prints identities. Two rules, both applied everywhere:
 *
 * - by key: a field whose name looks personal or secret (case-insensitive patterns: `cccd`,
 *   `hoTen`, `PatientName`, `maThe`, `diaChi`, `password`, `authorization`…) is masked whatever
 *   its value;
 * - by value shape: any string (a log message, an error's message and stack, a field no pattern
 *   names) has its CCCD numbers, CMND numbers, BHYT card numbers and CCCD QR texts masked.
 *
 * One key is both: a bare `address` is a person's home (a HIS answer, a card's DG13) or a
 * socket's (Node's EADDRINUSE error, `server.address()`). It is kept only when its value is a
 * network address (an IP, `host:port`, `localhost`, a socket path), which no home address is.
 */
import { isIP } from 'node:net';

/** '001099012345' → '0010*****345': keeps the province/sex/century prefix and 3 last digits. */
export function maskCccd(id: string): string {
  const digits = id.trim();
  if (digits.length <= 7) return '*'.repeat(digits.length);
  if (digits.length <= 9) return digits.slice(0, 2) + '*'.repeat(digits.length - 4) + digits.slice(-2);
  return digits.slice(0, 4) + '*'.repeat(digits.length - 7) + digits.slice(-3);
}

/** 'DN4797932194951' → 'DN**********951': the beneficiary group and 3 last digits. */
export function maskInsuranceCard(code: string): string {
  const c = code.trim();
  if (c.length <= 5) return '*'.repeat(c.length);
  return c.slice(0, 2) + '*'.repeat(c.length - 5) + c.slice(-3);
}

/** 'Nguyễn Văn An' → 'N. V. A.'; DICOM and HL7 names too ('Le^Van^Tam' → 'L. V. T.'). */
export function maskName(name: string): string {
  return name
    .normalize('NFC')
    .split(/[\s^]+/)
    .filter(Boolean)
    .map((part) => `${Array.from(part)[0] ?? ''}.`)
    .join(' ');
}

type Masker = (value: string) => string;
const fixed =
  (text: string): Masker =>
  () =>
    text;

const HOST_PORT = /^(?:\[([0-9a-f:.]+)\]|([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*)):\d{1,5}$/i;

/** An IP, `[v6]:port`, `host:port`, `localhost` or a Unix socket path: where a socket listens or connects. */
export function isNetworkAddress(value: string): boolean {
  const v = value.trim();
  if (isIP(v) || /^localhost$/i.test(v) || /^\/[\w.\-/]+$/.test(v)) return true;
  const m = HOST_PORT.exec(v);
  return m !== null && (m[1] === undefined || isIP(m[1]) === 6);
}

const homeOrSocketAddress: Masker = (value) => (isNetworkAddress(value) ? value : '[address]');

/** `server.address()`, a net error's fields: `{ address, family, port }` and nothing else. */
function isSocketAddressInfo(v: unknown): boolean {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o.address === 'string' &&
    typeof o.port === 'number' &&
    Object.keys(o).every((k) => ['address', 'family', 'port', 'flowlabel', 'scopeid'].includes(k))
  );
}

/**
 * Field-name patterns, tested case-insensitively against the whole key (`_` and `-` allowed
 * between words). First match wins: the order puts the specific before the general.
 */
export const PERSONAL_KEY_PATTERNS: ReadonlyArray<readonly [RegExp, Masker]> = [
  // Secrets: never shown, not even in part (passwordHash, kioskToken, x-api-key, admin_password_hash…).
  [/^.*(password|passwd|pwd|pass[_-]?phrase|secret|token|authorization|cookie|api[_-]?key|private[_-]?key)([_-]?hash)?$/i, fixed('[secret]')],
  [/^(can|pin|pin[_-]?code)$/i, fixed('[secret]')],
  // Whole documents whose every byte is personal.
  [/^(raw[_-]?)?(qr|qr[_-]?text|qr[_-]?code|mrz|mrz[_-]?text|card[_-]?key)$/i, fixed('[card text]')],
  [/^(face|photo|portrait|dg2|anh|hinh[_-]?anh)$/i, fixed('[image]')],
  // Identity numbers.
  [
    /^.*(cccd|cmnd|dinh[_-]?danh)([_-]?(cb|bn|number))?$|^(so[_-]?)?cmt$|^(old[_-]?)?id[_-]?number$|^(patient[_-]?id|patient[_-]?identifier|personal[_-]?id|national[_-]?id|citizen[_-]?id|so[_-]?giay[_-]?to)$/i,
    maskCccd,
  ],
  [
    /^(ma[_-]?the([_-]?bhyt)?|so[_-]?the([_-]?bhyt)?|the[_-]?bhyt|bhyt|insurance[_-]?(code|number|card|card[_-]?number|id)|health[_-]?insurance[_-]?(code|number))$/i,
    maskInsuranceCard,
  ],
  // Names.
  [
    /^(ho[_-]?ten([_-]?\w+)?|ho[_-]?va[_-]?ten|ten|ten[_-]?(benh[_-]?nhan|bn|cb)|name|full[_-]?name|display[_-]?name|(patient|person|staff|spouse|father|mother|other|guardian|relative|contact)s?[_-]?name|(patient|given|family|middle|last|first)[_-]?names?)$/i,
    maskName,
  ],
  // Addresses, birth dates, phones, e-mail.
  [/^address$/i, homeOrSocketAddress],
  [
    /^(permanent|home|street|patient|residence|residential|current|postal|contact|mailing)[_-]?address$|^(dia[_-]?chi([_-]?\w+)?|hometown|residence|place[_-]?of[_-]?(origin|residence|birth)|que[_-]?quan|noi[_-]?(o|cu[_-]?tru|thuong[_-]?tru|sinh)|thuong[_-]?tru)$/i,
    fixed('[address]'),
  ],
  [/^(.*birth[_-]?date|date[_-]?of[_-]?birth|dob|ngay[_-]?sinh|nam[_-]?sinh|birth[_-]?year|patient[_-]?birth[_-]?date)$/i, fixed('[date]')],
  [/^(.*phone([_-]?number)?|so[_-]?dien[_-]?thoai|dien[_-]?thoai|sdt|mobile|tel)$/i, fixed('[phone]')],
  [/^(e[_-]?mail|email[_-]?address)$/i, fixed('[email]')],
];

const keyCache = new Map<string, Masker | null>();

/** The masker for a field name, or null when the name says nothing personal (memoised). */
export function maskerForKey(key: string): Masker | null {
  let m = keyCache.get(key);
  if (m !== undefined) return m;
  m = null;
  for (const [pattern, masker] of PERSONAL_KEY_PATTERNS) {
    if (pattern.test(key)) {
      m = masker;
      break;
    }
  }
  if (keyCache.size > 5000) keyCache.clear();
  keyCache.set(key, m);
  return m;
}

/*
 * Value shapes. A shape matches only a whole token: never digits inside a longer run of digits
 * or letters (hex hashes, UIDs 1.2.840…, UUIDs, HL7 timestamps, epoch milliseconds).
 * - CCCD: 12 digits starting with a province code 001–096 (so 2026… timestamps are not one);
 *   followed by `|` it is the card's QR text: the rest of that line is hidden;
 * - BHYT card: 2 letters + 13 digits (DN4797932194951);
 * - CMND: 9 digits standing alone (not a dotted, dashed or colon-joined part, not a byte count).
 */
const CCCD = String.raw`0(?:0[1-9]|[1-8]\d|9[0-6])\d{9}`;
const SHAPES = new RegExp(
  [
    String.raw`(?<![\p{L}\p{N}_.\-])(${CCCD})(?:(\|[^\r\n]*)|(?![\p{L}\p{N}_.\-]))`,
    String.raw`(?<![\p{L}\p{N}_])(\p{L}{2}\d{13})(?![\p{L}\p{N}_])`,
    String.raw`(?<![\p{L}\p{N}_.\-:/])(\d{9})(?![\p{L}\p{N}_.\-:/]|\s?(?:bytes?|[KMGT]i?B|B|ms|s)\b)`,
  ].join('|'),
  'gu',
);
const NINE_DIGITS = /\d{9}/;

/** `text` with every CCCD, CMND, BHYT card number and CCCD QR text in it masked. */
export function maskText(text: string): string {
  if (text.length < 9 || !NINE_DIGITS.test(text)) return text;
  return text.replace(SHAPES, (_m, cccd?: string, qrRest?: string, bhyt?: string, cmnd?: string) => {
    if (cccd) return qrRest ? '[card text]' : maskCccd(cccd);
    if (bhyt) return maskInsuranceCard(bhyt);
    return maskCccd(cmnd ?? '');
  });
}

/** An Error as plain fields, so its message, stack and code survive (then are masked as text). */
function errorFields(err: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { type: err.constructor?.name ?? err.name, message: err.message, stack: err.stack };
  // Own enumerable fields: code, errno, syscall, statusCode, problems…
  // (`name`, set by errors that name themselves, is their type: masked as a person's name it read "S.")
  for (const [k, v] of Object.entries(err)) if (!(k in out) && k !== 'name') out[k] = v;
  if (err.cause !== undefined) out.cause = err.cause;
  if (err instanceof AggregateError) out.errors = err.errors;
  return out;
}

/**
 * A deep copy of `value` with every personal key masked and every string shape-masked.
 * Errors become `{ type, message, stack, code… }` first; cycles and depth are bounded.
 */
export function redact(value: unknown, depth = 0, seen?: WeakSet<object>): unknown {
  if (typeof value === 'string') return maskText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8) return '[too deep]';
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `[${value.byteLength} bytes]`;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  const visited = seen ?? new WeakSet<object>();
  if (visited.has(value)) return '[circular]';
  visited.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1, visited));
    if (value instanceof Error) return redactFields(errorFields(value), depth, visited);
    if (value instanceof Map) return redactFields(Object.fromEntries(value), depth, visited);
    if (value instanceof Set) return [...value].map((v) => redact(v, depth + 1, visited));
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return redact(toJSON.call(value), depth + 1, visited);
    return redactFields(value as Record<string, unknown>, depth, visited);
  } finally {
    visited.delete(value);
  }
}

function redactFields(value: Record<string, unknown>, depth: number, seen: WeakSet<object>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const v = value[key];
    const mask = maskerForKey(key);
    if (mask && v !== undefined && v !== null && v !== '' && !(mask === homeOrSocketAddress && isSocketAddressInfo(v)))
      out[key] = typeof v === 'string' ? mask(v) : typeof v === 'boolean' ? v : '[redacted]';
    else out[key] = redact(v, depth + 1, seen);
  }
  return out;
}

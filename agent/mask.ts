/**
 * One masking policy for personal data (Decree 13/2023), used by the logger's serializers,
 * the diagnostics bundle and anything else that prints identities.
 */

/** '001099012345' → '0010*****345': keeps the province/sex/century prefix and 3 last digits. */
export function maskCccd(id: string): string {
  const digits = id.trim();
  if (digits.length <= 7) return '*'.repeat(digits.length);
  return digits.slice(0, 4) + '*'.repeat(digits.length - 7) + digits.slice(-3);
}

/** 'Nguyễn Văn An' → 'N. V. A.' */
export function maskName(name: string): string {
  return name
    .normalize('NFC')
    .split(/\s+/)
    .filter(Boolean)
    .map((part) => `${Array.from(part)[0] ?? ''}.`)
    .join(' ');
}

/** Keys whose values are personal data wherever they appear in a logged object. */
export const PERSONAL_KEYS: Record<string, (value: string) => string> = {
  cccd: maskCccd,
  idNumber: maskCccd,
  oldIdNumber: maskCccd,
  patientId: maskCccd,
  name: maskName,
  fullName: maskName,
  patientName: maskName,
  spouseName: maskName,
  fatherName: maskName,
  motherName: maskName,
  address: () => '[address]',
  hometown: () => '[address]',
  residence: () => '[address]',
  birthDate: () => '[date]',
  dateOfBirth: () => '[date]',
  patientBirthDate: () => '[date]',
  phone: () => '[phone]',
  password: () => '[secret]',
  passwordHash: () => '[secret]',
  token: () => '[secret]',
};

/** A deep copy of `value` with every personal key masked; cycles and depth are bounded. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Buffer.isBuffer(value)) return `[${value.length} bytes]`;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const mask = PERSONAL_KEYS[key];
    if (mask && v !== undefined && v !== null) out[key] = typeof v === 'string' ? mask(v) : '[redacted]';
    else out[key] = redact(v, depth + 1);
  }
  return out;
}

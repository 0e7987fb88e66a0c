import { cpus, totalmem } from 'node:os';
import { execSync } from 'node:child_process';

/** Percentile of a list of numbers (nearest rank). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** One line naming the machine, for docs/BENCHMARKS.md. */
export function machineLine(): string {
  let disk = '';
  try {
    disk = execSync('df -h --output=source,fstype . | tail -1', { encoding: 'utf8' }).trim().replace(/\s+/g, ' ');
  } catch {
    disk = 'unknown disk';
  }
  return `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}/${process.arch}, store on ${disk}`;
}

export function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '–';
}

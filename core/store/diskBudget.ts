import { statfsSync, statSync } from 'node:fs';
import { StoreError } from './errors.ts';

export interface DiskBudgetOptions {
  /** Directory holding the database and blobs. */
  dir: string;
  /** Bytes the store may use (database + blobs); 0 means "the whole volume". */
  budgetBytes: number;
  /** Below this much free space on the volume the store counts as full. */
  minFreeBytes: number;
  warnPercent: number;
  criticalPercent: number;
  /** Bytes currently used by the store (database files + blobs). */
  usedBytes: () => number;
}

export type BudgetLevel = 'ok' | 'warn' | 'critical' | 'full';

export interface BudgetReading {
  level: BudgetLevel;
  usedBytes: number;
  usedPercent: number;
  freeBytes: number;
}

/**
 * Disk budget with alarms (70 % / 90 % by default). When full, only low-value streams
 * (telemetry) are refused up front; clinical data is refused only when a write really fails.
 */
export class DiskBudget {
  private last: BudgetReading = { level: 'ok', usedBytes: 0, usedPercent: 0, freeBytes: Number.MAX_SAFE_INTEGER };

  constructor(private readonly opts: DiskBudgetOptions) {}

  read(): BudgetReading {
    const fs = statfsSync(this.opts.dir);
    const freeBytes = fs.bavail * fs.bsize;
    const usedBytes = this.opts.usedBytes();
    const budget = this.opts.budgetBytes > 0 ? this.opts.budgetBytes : usedBytes + freeBytes;
    const usedPercent = budget > 0 ? (usedBytes / budget) * 100 : 100;
    let level: BudgetLevel = 'ok';
    if (usedPercent >= this.opts.warnPercent) level = 'warn';
    if (usedPercent >= this.opts.criticalPercent) level = 'critical';
    if (usedPercent >= 100 || freeBytes < this.opts.minFreeBytes) level = 'full';
    this.last = { level, usedBytes, usedPercent: Math.round(usedPercent * 10) / 10, freeBytes };
    return this.last;
  }

  get current(): BudgetReading {
    return this.last;
  }

  /** Admission check for append(): null when admitted. */
  admit(priority: 'clinical' | 'telemetry'): StoreError | null {
    if (priority === 'telemetry' && this.last.level === 'full') {
      return new StoreError(
        'EDGE_STORE_BUDGET',
        `disk budget exhausted (${this.last.usedPercent}% used, ${this.last.freeBytes} bytes free): telemetry refused, clinical data still accepted`,
      );
    }
    return null;
  }
}

export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

import { randomInt, timingSafeEqual } from 'node:crypto';

/** Wrong codes before the code is replaced by a new one (printed again where the first was). */
export const MAX_WRONG_CODES = 10;

/**
 * The first-run page's one-time code: 8 digits (10^8, and a new code after 10 wrong tries, so
 * guessing from the LAN is hopeless), shown only where someone at the box can read it.
 */
export class SetupCode {
  private code = SetupCode.generate();
  private wrong = 0;

  constructor(private readonly announce: (code: string) => void) {
    announce(this.display());
  }

  static generate(): string {
    return String(randomInt(0, 100_000_000)).padStart(8, '0');
  }

  /** As printed: two groups of four, easier to read off a screen and type. */
  display(): string {
    return `${this.code.slice(0, 4)}-${this.code.slice(4)}`;
  }

  check(offered: string | undefined): boolean {
    const digits = Buffer.from((offered ?? '').replace(/[\s-]/g, ''));
    const expected = Buffer.from(this.code);
    if (digits.length === expected.length && timingSafeEqual(digits, expected)) return true;
    if (++this.wrong >= MAX_WRONG_CODES) {
      this.code = SetupCode.generate();
      this.wrong = 0;
      this.announce(this.display());
    }
    return false;
  }
}

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';

// This workplace's registry serves only some platforms of packages with native binaries
// (@napi-rs/canvas: linux x64/arm64 glibc). `npm install` then drops the other platforms from
// the lock file, and `npm ci` (the README's command, and CI's) refuses the lock as out of sync.
// The entries are kept by hand (os/cpu set, nothing to fetch); this test catches their loss.
describe('package-lock.json', () => {
  it('lists every optional dependency of every package, so npm ci accepts it', () => {
    const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as { packages: Record<string, { optionalDependencies?: Record<string, string> }> };
    const missing: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      for (const dep of Object.keys(entry.optionalDependencies ?? {})) {
        const nested = `${path ? `${path}/` : ''}node_modules/${dep}`;
        if (!lock.packages[nested] && !lock.packages[`node_modules/${dep}`]) missing.push(`${path || '(root)'} → ${dep}`);
      }
    }
    expect(missing).toEqual([]);
  });
});

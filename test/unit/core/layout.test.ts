// Issue #18's rule, enforced: nothing under core/ imports modules/, and a module imports only
// core/contract/ and other modules' index.ts. Today's violations are listed in
// layoutViolations.json; the list may only shrink: a new violation fails, and so does a listed
// one that is gone (remove it from the file, and lower MAX_VIOLATIONS with it).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(new URL(import.meta.url).pathname), '../../..');
/** 142 when the rule came in (2026-12-04), 118 once the controller started modules by their manifests, 9 once modules went through core/contract/ and each other's index.ts, 5 once configuration checks and blocks came from the modules, 2 once the orders routes moved to the lab module, none once the results routes did; it stays empty. */
const MAX_VIOLATIONS = 0;

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return sources(path);
    return /\.(ts|js|mjs)$/.test(name) && !name.endsWith('.test.ts') ? [path] : [];
  });
}

const IMPORT = /(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g;

/** Every relative import of the agent's sources, as repository paths. */
function imports(): Array<{ from: string; to: string }> {
  return ['core', 'modules']
    .flatMap(sources)
    .flatMap((from) =>
      [...readFileSync(join(ROOT, from), 'utf8').matchAll(IMPORT)].map((m) => ({ from, to: relative(ROOT, normalize(join(ROOT, dirname(from), m[1]!))) })),
    );
}

const moduleOf = (path: string): string | null => /^modules\/([^/]+)\//.exec(path)?.[1] ?? null;

/** Why an import breaks the rule, or null. */
function violation(from: string, to: string): string | null {
  if (from.startsWith('core/') && to.startsWith('modules/')) return 'core imports a module';
  const mine = moduleOf(from);
  if (!mine) return null;
  if (to.startsWith('core/') && !to.startsWith('core/contract/')) return 'a module reaches into the core past its contract';
  const theirs = moduleOf(to);
  if (theirs && theirs !== mine && to !== `modules/${theirs}/index.ts`) return 'a module reaches into another module past its index.ts';
  return null;
}

describe('core and modules', () => {
  const found = imports()
    .filter(({ from, to }) => violation(from, to))
    .map(({ from, to }) => `${from} -> ${to}`);
  const listed: string[] = JSON.parse(readFileSync(join(ROOT, 'test/unit/core/layoutViolations.json'), 'utf8'));

  it('has no violation that is not on the list (a new one is a design change: make it an import of the contract)', () => {
    expect(found.filter((v) => !listed.includes(v))).toEqual([]);
  });

  it('lists no violation that is gone (take it off the list: it may only shrink)', () => {
    expect(listed.filter((v) => !found.includes(v))).toEqual([]);
    expect(listed.length).toBeLessThanOrEqual(MAX_VIOLATIONS);
  });

  it('classifies imports by the rule', () => {
    expect(violation('core/controller.ts', 'modules/dicom/index.ts')).toBe('core imports a module');
    expect(violation('modules/hl7/listener.ts', 'core/contract/driver.ts')).toBeNull();
    expect(violation('modules/hl7/listener.ts', 'core/store/journal.ts')).toBe('a module reaches into the core past its contract');
    expect(violation('modules/his/adtA04.ts', 'modules/hl7/index.ts')).toBeNull();
    expect(violation('modules/his/adtA04.ts', 'modules/hl7/ack.ts')).toBe('a module reaches into another module past its index.ts');
    expect(violation('modules/hl7/listener.ts', 'modules/hl7/mllp.ts')).toBeNull();
  });
});

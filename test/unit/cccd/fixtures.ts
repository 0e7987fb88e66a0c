import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../../../fixtures/cccd/', import.meta.url));

export function fixtureText(name: string): string {
  return readFileSync(dir + name, 'utf8');
}
export function fixtureHex(name: string): Buffer {
  return Buffer.from(fixtureText(name).trim(), 'hex');
}
export function fixtureJson<T = any>(name: string): T {
  return JSON.parse(fixtureText(name)) as T;
}
export const h = (s: string): Buffer => Buffer.from(s, 'hex');

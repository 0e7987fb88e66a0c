import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** Paths of DICOM fixtures in fixtures/dicom (see fixtures/dicom/SOURCES.md). */
export const DICOM_FIXTURES = fileURLToPath(new URL('../../../fixtures/dicom/', import.meta.url));

export function dicomFixturePath(name: string): string {
  return join(DICOM_FIXTURES, name);
}

export function dicomFixture(name: string): Buffer {
  return readFileSync(dicomFixturePath(name));
}

export function dicomFixtureNames(folder: 'pydicom' | 'charset'): string[] {
  return readdirSync(join(DICOM_FIXTURES, folder)).filter((f) => f.endsWith('.dcm')).sort().map((f) => `${folder}/${f}`);
}

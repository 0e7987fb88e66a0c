#!/usr/bin/env node
// Merges each driver's and destination's schema fragment into config/schema.json, the one
// schema that validates configuration, drives errors, editor completion and console forms.
// Run after changing a fragment: `node scripts/build-schema.mjs` (a test fails when stale).
import { readFileSync, writeFileSync } from 'node:fs';

/** Fragments owned by their drivers: kind, configuration type name, file. */
export const FRAGMENTS = [
  { kind: 'device', type: 'astm', file: 'modules/astm/schema.json' },
  { kind: 'destination', type: 'astm-lis', file: 'modules/astm/destination.schema.json' },
  { kind: 'device', type: 'hl7-mllp', file: 'modules/hl7/schema.json' },
  { kind: 'destination', type: 'hl7-mllp-lis', file: 'modules/hl7/destination.schema.json' },
  { kind: 'device', type: 'http-ingest', file: 'modules/http-ingest/schema.json' },
  // Block schemas written without the common device fields: wrapped (see wrapDevice).
  { kind: 'device', type: 'cccd-reader', file: 'modules/cccd/schema.json', def: 'cccdReader', wrap: true },
  { kind: 'device', type: 'qr-scanner', file: 'modules/cccd/schema.json', def: 'qrScanner', wrap: true },
  { kind: 'device', type: 'dicom-scp', file: 'modules/dicom/schema.json' },
  { kind: 'destination', type: 'dicom-cstore', file: 'modules/dicom/destination.schema.json' },
  { kind: 'destination', type: 'dicom-stowrs', file: 'modules/dicom/stowrs.schema.json' },
  { kind: 'device', type: 'escpos-printer', file: 'modules/printer/schema.json', wrap: true },
];

/** Adds the common device fields (driver, routes, timezone…) to a block schema that lacks them. */
function wrapDevice(block) {
  const { additionalProperties: _a, unevaluatedProperties: _u, description, ...rest } = block;
  const properties = { ...(rest.properties ?? {}) };
  delete properties.type;
  delete properties.driver;
  if (rest.required) rest.required = rest.required.filter((r) => r !== 'type' && r !== 'driver');
  return { description, type: 'object', unevaluatedProperties: false, allOf: [{ $ref: '#/$defs/deviceCommon' }, { ...rest, properties }] };
}

/** Files whose $defs are merged whole (named `device.<type>` / `destination.<type>` or helpers), with top-level properties they add. */
export const DEF_FILES = [
  { file: 'modules/his/schema.json', properties: { his: { $ref: '#/$defs/his' } } },
  { file: 'config/fragments/queue.schema.json', properties: { queue: { $ref: '#/$defs/queue' }, kiosk: { $ref: '#/$defs/kiosk' } } },
  { file: 'config/fragments/http.schema.json', properties: { http: { $ref: '#/$defs/http', default: {} } } },
  { file: 'config/fragments/lanBroker.schema.json', properties: { lanBroker: { $ref: '#/$defs/lanBroker', default: {} } } },
  {
    file: 'config/fragments/store.schema.json',
    properties: { store: { $ref: '#/$defs/store', default: {} }, retention: { $ref: '#/$defs/retention', default: {} } },
  },
];

export function buildSchema(current) {
  const schema = structuredClone(current);
  const defs = schema.$defs;
  for (const f of FRAGMENTS) {
    const file = JSON.parse(readFileSync(f.file, 'utf8'));
    let fragment = f.def ? file.$defs[f.def] : file;
    // A nested $id would change the base of "#/$defs/..." references inside the fragment.
    delete fragment.$schema;
    delete fragment.$id;
    if (f.wrap) fragment = wrapDevice(fragment);
    defs[`${f.kind}.${f.type}`] = fragment;
  }
  for (const f of DEF_FILES) {
    Object.assign(defs, JSON.parse(readFileSync(f.file, 'utf8')).$defs);
    Object.assign(schema.properties, f.properties);
  }
  for (const kind of ['device', 'destination']) {
    const key = kind === 'device' ? 'driver' : 'type';
    const types = Object.keys(defs)
      .filter((k) => k.startsWith(`${kind}.`))
      .map((k) => k.slice(kind.length + 1))
      .sort();
    defs[kind].properties[key].enum = types;
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then, not a thenable
    defs[kind].allOf = types.map((t) => ({ if: { properties: { [key]: { const: t } } }, then: { $ref: `#/$defs/${kind}.${t}` } }));
  }
  return schema;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const path = 'config/schema.json';
  const next = buildSchema(JSON.parse(readFileSync(path, 'utf8')));
  writeFileSync(path, `${JSON.stringify(next, null, 2)}\n`);
  console.log(`config/schema.json: ${FRAGMENTS.length + DEF_FILES.length} fragments merged`);
}

// Merges every module's schema fragments (their manifests' `schema`) and the core's own into
// config/schema.json, the one schema that validates configuration, drives errors, editor
// completion and console forms. Run after changing a fragment: `npm run build:schema` (the
// schema unit test fails while config/schema.json is stale).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { EdgeModule } from '../core/contract/module.ts';
import { MODULES } from '../modules/index.ts';

type Json = Record<string, any>;

/** The core's own blocks: $defs files with the top-level properties they add. */
const CORE_DEFS = [
  { file: new URL('../config/fragments/http.schema.json', import.meta.url), properties: { http: { $ref: '#/$defs/http', default: {} } } },
  { file: new URL('../config/fragments/lanBroker.schema.json', import.meta.url), properties: { lanBroker: { $ref: '#/$defs/lanBroker', default: {} } } },
  {
    file: new URL('../config/fragments/store.schema.json', import.meta.url),
    properties: { store: { $ref: '#/$defs/store', default: {} }, retention: { $ref: '#/$defs/retention', default: {} } },
  },
];

const read = (file: URL): Json => JSON.parse(readFileSync(fileURLToPath(file), 'utf8'));

/** Adds the common device fields (driver, routes, timezone…) to a block schema that lacks them. */
function wrapDevice(block: Json): Json {
  const { additionalProperties: _a, unevaluatedProperties: _u, description, ...rest } = block;
  const properties = { ...(rest.properties ?? {}) };
  delete properties.type;
  delete properties.driver;
  if (rest.required) rest.required = rest.required.filter((r: string) => r !== 'type' && r !== 'driver');
  return { description, type: 'object', unevaluatedProperties: false, allOf: [{ $ref: '#/$defs/deviceCommon' }, { ...rest, properties }] };
}

function block(file: URL, def?: string): Json {
  const json = read(file);
  const fragment = def ? json.$defs[def] : json;
  // A nested $id would change the base of "#/$defs/..." references inside the fragment.
  delete fragment.$schema;
  delete fragment.$id;
  return fragment;
}

export function buildSchema(current: Json, modules: readonly EdgeModule[] = MODULES): Json {
  const schema = structuredClone(current);
  const defs = schema.$defs;
  for (const m of modules) {
    for (const d of m.schema?.devices ?? []) defs[`device.${d.type}`] = d.wrap ? wrapDevice(block(d.file, d.def)) : block(d.file, d.def);
    for (const d of m.schema?.destinations ?? []) defs[`destination.${d.type}`] = block(d.file);
  }
  for (const f of [...modules.flatMap((m) => m.schema?.defs ?? []), ...CORE_DEFS]) {
    Object.assign(defs, read(f.file).$defs);
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
  writeFileSync(path, `${JSON.stringify(buildSchema(JSON.parse(readFileSync(path, 'utf8'))), null, 2)}\n`);
  console.log(`config/schema.json: the fragments of ${MODULES.length} modules and the core merged`);
}

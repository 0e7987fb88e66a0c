import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { buildSchema } from '../../../scripts/build-schema.ts';
import { destinationFactories, driverFactories, registerModules } from '../../../core/registry.ts';
import { MODULES } from '../../../modules/index.ts';

const schema = JSON.parse(readFileSync('config/schema.json', 'utf8'));

describe('config/schema.json', () => {
  it("is up to date with the drivers' fragments (run npm run build:schema)", () => {
    expect(buildSchema(schema)).toEqual(schema);
  });

  it('has a block for every registered driver and destination type, and no block without one', () => {
    registerModules(MODULES);
    expect([...driverFactories.keys()].sort()).toEqual([...schema.$defs.device.properties.driver.enum].sort());
    expect([...destinationFactories.keys()].sort()).toEqual([...schema.$defs.destination.properties.type.enum].sort());
  });
});

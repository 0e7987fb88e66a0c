import { Ajv2020 } from 'ajv/dist/2020.js';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AstmConfigError, resolveAstmSettings } from '../../../modules/astm/index.ts';
import { LAB_PROFILES } from '../../../modules/lab/profiles.ts';

const fragment = JSON.parse(readFileSync('modules/astm/schema.json', 'utf8'));
const main = JSON.parse(readFileSync('config/schema.json', 'utf8'));

function validator() {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const { $schema: _s, $id: _i, ...astm } = fragment;
  const { deviceCommon, allowedPeers, listenerLimits } = main.$defs;
  return ajv.compile({ $defs: { deviceCommon, allowedPeers, listenerLimits }, allOf: [{ properties: { driver: { const: 'astm' } } }, astm] });
}

describe('ASTM device configuration', () => {
  it('the schema fragment accepts real blocks and rejects mistakes with a field name', () => {
    const validate = validator();
    expect(validate({ driver: 'astm', profile: 'sysmex-xn', transport: 'tcp-client', host: '10.0.0.5', port: 5000, routes: ['lis'] })).toBe(true);
    expect(validate({ driver: 'astm', transport: 'serial', path: '/dev/ttyUSB0', baudRate: 9600, encoding: 'windows-1258' })).toBe(true);
    expect(validate({ driver: 'astm', transport: 'serial' })).toBe(false);
    expect(validate({ driver: 'astm', frameSize: 100000 })).toBe(false);
    expect(validate({ driver: 'astm', encoding: 'cp1252' })).toBe(false);
    expect(validate({ driver: 'astm', typo: 1 })).toBe(false);
    expect(validate.errors?.some((e) => JSON.stringify(e).includes('typo'))).toBe(true);
    // Listener security fields, and the field older configurations have.
    expect(
      validate({ driver: 'astm', transport: 'tcp-server', port: 4010, allowedPeers: ['10.0.5.21', '10.0.6.0/24'], limits: { maxConnectionsPerPeer: 1 } }),
    ).toBe(true);
    expect(validate({ driver: 'astm', transport: 'tcp-server', maxConnections: 4 })).toBe(true);
    expect(validate({ driver: 'astm', allowedPeers: ['lab-pc'] })).toBe(false);
    expect(validate({ driver: 'astm', limits: { maxConnections: 0 } })).toBe(false);
    expect(validate({ driver: 'astm', maxTransmissionBytes: 10 })).toBe(false);
  });

  it('bounds incoming frames, messages and transmissions from the profile; the device block wins', () => {
    expect(resolveAstmSettings({ timezone: 'Asia/Ho_Chi_Minh' }, {})).toMatchObject({
      frameSize: 247,
      maxFrameBytes: 247,
      maxMessageBytes: 1 << 20,
      maxTransmissionBytes: 4 << 20,
    });
    expect(resolveAstmSettings({ timezone: 'Asia/Ho_Chi_Minh' }, { profile: 'sysmex-xn' })).toMatchObject({
      maxFrameBytes: 64_000,
      maxMessageBytes: 4 << 20,
      maxTransmissionBytes: 16 << 20,
    });
    expect(resolveAstmSettings({ timezone: 'Asia/Ho_Chi_Minh' }, { frameSize: 1024, maxTransmissionBytes: 65_536 })).toMatchObject({
      maxFrameBytes: 1024,
      maxTransmissionBytes: 65_536,
    });
  });

  it('every ASTM profile is listed in the schema enum', () => {
    const astmProfiles = Object.values(LAB_PROFILES)
      .filter((p) => p.protocol === 'astm')
      .map((p) => p.id);
    expect(fragment.properties.profile.enum.sort()).toEqual(astmProfiles.sort());
  });

  it('merges the profile with the device block; the device zone wins', () => {
    const s = resolveAstmSettings({ timezone: 'Asia/Bangkok' }, { profile: 'roche-cobas-c', testCodes: { '999': 'X' } });
    expect(s).toMatchObject({ transport: 'serial', framing: 'framed', frameSize: 64_000, encoding: 'latin1', timezone: 'Asia/Bangkok', forwardQc: false });
    expect(s.testCodes['687']).toBe('GLU');
    expect(s.testCodes['999']).toBe('X');
    expect(resolveAstmSettings({ timezone: 'Asia/Ho_Chi_Minh' }, { quirks: ['bareRecords'] }).framing).toBe('bare');
  });

  it('refuses an HL7 profile, an unknown profile and a bad frame size', () => {
    expect(() => resolveAstmSettings({ timezone: 'UTC' }, { profile: 'mindray-bc' })).toThrow(AstmConfigError);
    expect(() => resolveAstmSettings({ timezone: 'UTC' }, { profile: 'nope' })).toThrow(/unknown lab profile/);
    expect(() => resolveAstmSettings({ timezone: 'UTC' }, { frameSize: 5 })).toThrow(/frameSize/);
  });
});

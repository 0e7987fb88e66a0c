import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { ConfigError, loadConfigText } from '../../../core/config/load.ts';
import { formatProblem } from '../../../core/config/types.ts';
import { PeerListError } from '../../../core/net/peers.ts';
import { CallerPolicy } from '../../../modules/dicom/net/callerPolicy.ts';
import { REJECT } from '../../../modules/dicom/net/pdu.ts';
import { tempDir } from '../../helpers/tmp.ts';

describe('CallerPolicy: calling AE plus address, deny by default', () => {
  const policy = new CallerPolicy(
    'EDGE',
    [{ aeTitle: 'CT01', addresses: ['10.0.5.21'] }, { aeTitle: 'US01', addresses: ['10.0.6.0/24'] }, { aeTitle: 'PACS' }],
    ['10.0.9.9'],
    '0.0.0.0',
  );

  it('admits a listed AE from its own addresses only, and a caller without addresses from allowedPeers only', () => {
    expect(policy.decide('EDGE', 'CT01', '10.0.5.21')).toBeNull();
    expect(policy.decide('EDGE', 'CT01', '::ffff:10.0.5.21')).toBeNull();
    expect(policy.decide('EDGE', 'US01', '10.0.6.77')).toBeNull();
    expect(policy.decide('EDGE', 'PACS', '10.0.9.9')).toBeNull();
    expect(policy.decide('EDGE', 'CT01', '10.0.5.22')).toMatchObject({
      reject: REJECT.callingAeNotRecognized,
      why: expect.stringMatching(/"CT01" may not call from 10\.0\.5\.22/),
    });
    expect(policy.decide('EDGE', 'PACS', '10.0.5.21')).toMatchObject({ reject: REJECT.callingAeNotRecognized });
    expect(policy.decide('EDGE', 'ANYBODY', '10.0.5.21')).toMatchObject({
      reject: REJECT.callingAeNotRecognized,
      why: 'calling AE "ANYBODY" is not in allowedCallers',
    });
    expect(policy.decide('PACS', 'CT01', '10.0.5.21')).toMatchObject({ reject: REJECT.calledAeNotRecognized });
  });

  it("lets TCP in from allowedPeers and the callers' own addresses, nothing else (loopback neither, once peers are listed)", () => {
    expect(policy.peers.allows('10.0.9.9')).toBe(true);
    expect(policy.peers.allows('10.0.5.21')).toBe(true);
    expect(policy.peers.allows('10.0.6.200')).toBe(true);
    expect(policy.peers.allows('10.0.5.22')).toBe(false);
    expect(policy.peers.allows('127.0.0.1')).toBe(false);
  });

  it('refuses every association when no caller is listed, saying why', () => {
    const none = new CallerPolicy('EDGE', [], undefined, '127.0.0.1');
    expect(none.empty).toBe(true);
    expect(none.decide('EDGE', 'CT01', '127.0.0.1')).toMatchObject({
      reject: REJECT.callingAeNotRecognized,
      why: expect.stringMatching(/no allowedCallers configured/),
    });
    // The listener still admits only the box itself.
    expect(none.peers.allows('127.0.0.1')).toBe(true);
    expect(none.peers.allows('10.0.0.1')).toBe(false);
  });

  it('admits the self-test AE from the box only, and loopback TCP only while a self-test runs', () => {
    expect(policy.selfTestAe).toMatch(/^SELFTEST[0-9A-F]{8}$/);
    expect(policy.decide('EDGE', policy.selfTestAe, '127.0.0.1')).toBeNull();
    expect(policy.decide('EDGE', policy.selfTestAe, '10.0.5.21')).toMatchObject({ reject: REJECT.callingAeNotRecognized });
    expect(new CallerPolicy('EDGE', [], undefined, '127.0.0.1').selfTestAe).not.toBe(policy.selfTestAe);
    policy.peers.selfTests++;
    expect(policy.peers.allows('127.0.0.1')).toBe(true);
    policy.peers.selfTests--;
    expect(policy.peers.allows('127.0.0.1')).toBe(false);
    // Bound to a LAN address, the self-test comes from that address.
    const bound = new CallerPolicy('EDGE', [{ aeTitle: 'CT01', addresses: ['10.0.5.21'] }], undefined, '10.0.5.2');
    expect(bound.decide('EDGE', bound.selfTestAe, '10.0.5.2')).toBeNull();
    expect(bound.decide('EDGE', bound.selfTestAe, '10.0.5.3')).not.toBeNull();
  });

  it('refuses an address it cannot match, naming it', () => {
    expect(() => new CallerPolicy('EDGE', [{ aeTitle: 'CT01', addresses: ['ct-room-1'] }], undefined, '0.0.0.0')).toThrow(PeerListError);
    expect(() => new CallerPolicy('EDGE', [{ aeTitle: 'CT01', addresses: ['10.0.5.0/40'] }], undefined, '0.0.0.0')).toThrow(/10\.0\.5\.0\/40/);
  });
});

describe('dicom-scp schema: callers, limits, TLS port', () => {
  let cleanups: Array<() => void> = [];
  afterEach(() => {
    cleanups.forEach((c) => c());
    cleanups = [];
  });
  const load = (device: string): { problems: string[]; device?: Record<string, unknown> } => {
    const { dir, cleanup } = tempDir('edge-dicom-cfg-');
    cleanups.push(cleanup);
    writeFileSync(join(dir, 'secrets.yaml'), '');
    const text = `version: 1\nbox: { id: rad-box, facility: bvdk }\ndestinations:\n  pacs: { type: dicom-cstore, host: 127.0.0.1, port: 104, calledAe: PACS }\ndevices:\n  ct:\n    driver: dicom-scp\n    routes: [pacs]\n${device}`;
    try {
      const { config } = loadConfigText(text, join(dir, 'box.yaml'));
      return { problems: [], device: config.devices.ct as unknown as Record<string, unknown> };
    } catch (err) {
      if (err instanceof ConfigError) return { problems: err.problems.map(formatProblem) };
      throw err;
    }
  };

  it('takes callers with addresses, allowedPeers, per-port limits and a TLS port, resolving the PEM paths next to the file', () => {
    const r = load(
      `    allowedCallers: [{ aeTitle: CT01, addresses: [10.0.5.21] }, { aeTitle: US01, addresses: [10.0.6.0/24] }]\n    allowedPeers: [10.0.5.0/24]\n    limits: { maxConnectionsPerPeer: 2 }\n    tls: { port: 2762, cert: tls/server.crt, key: tls/server.key, ca: tls/ca.crt, requireClientCert: true }\n`,
    );
    expect(r.problems).toEqual([]);
    expect(r.device).toMatchObject({ idleTimeoutMs: 60000, limits: { maxConnectionsPerPeer: 2 }, tls: { port: 2762, requireClientCert: true } });
    expect((r.device!.tls as { cert: string }).cert).toMatch(/^\/.*\/tls\/server\.crt$/);
  });

  it('refuses a TLS block without a port, an unknown TLS field, an idle setting under limits and an address that is not one', () => {
    expect(load(`    tls: { cert: a.crt, key: a.key }\n`).problems.join('\n')).toMatch(/devices\.ct\.tls\.port: required field "port" is missing/);
    expect(load(`    tls: { port: 2762, cert: a.crt, key: a.key, ciphers: NULL }\n`).problems.join('\n')).toMatch(/devices\.ct\.tls\.ciphers: unknown field/);
    expect(load(`    limits: { idleSeconds: 3600 }\n`).problems.join('\n')).toMatch(/devices\.ct\.limits\.idleSeconds: unknown field/);
    expect(load(`    allowedCallers: [{ aeTitle: CT01, addresses: [ct-room-1] }]\n`).problems.join('\n')).toMatch(
      /allowedCallers\.0\.addresses\.0: does not have the expected form/,
    );
    expect(load(`    allowedCallers: [{ aeTitle: CT01, addresses: [] }]\n`).problems.join('\n')).toMatch(/allowedCallers\.0\.addresses/);
  });
});

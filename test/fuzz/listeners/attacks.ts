/**
 * What an attacker (or a broken device) throws at each listener: mutated streams built from the
 * same seeds as the in-process targets. Structure-aware where it matters: HL7 messages and ASTM
 * records are mutated and then framed correctly (so they reach the parsers and the journal),
 * DICOM associations have one PDU or the dataset damaged, and the framing itself is mutated too.
 */
import mqttPacket from 'mqtt-packet';
import { mllpFrame } from '../../../modules/hl7/mllp.ts';
import { encodeAssociateRq } from '../../../modules/dicom/net/associate.ts';
import { C_STORE_RQ, encodeCommand } from '../../../modules/dicom/net/dimse.ts';
import { encodeDataPdu, encodeReleaseRq } from '../../../modules/dicom/net/pdu.ts';
import { mutate } from '../lib/mutate.ts';
import type { Rng } from '../lib/rng.ts';
import {
  ASTM_TOKENS,
  DICOM_TOKENS,
  HL7_TOKENS,
  MQTT_TOKENS,
  astmMessages,
  astmStreams,
  astmTransmission,
  dicomAssociationPdus,
  dicomDatasets,
  hl7Messages,
  mllpStreams,
  mqttPackets,
  mqttSessions,
} from '../seeds.ts';

export interface Attack {
  bytes: Buffer;
  /** Send byte by byte, slowly (slowloris). */
  drip?: boolean;
  /** What kind of attack, for the counts. */
  kind: string;
}

const hl7Seeds = hl7Messages().map((m) => Buffer.from(m, 'utf8'));
const mllpSeeds = mllpStreams();

export function hl7Attack(rng: Rng, maxMessageBytes: number): Attack {
  const r = rng.int(10);
  if (r === 0) {
    // An unterminated or oversized frame: the box must drop it, not keep it.
    const size = rng.range(maxMessageBytes / 2, maxMessageBytes * 2);
    return {
      kind: 'big-frame',
      bytes: Buffer.concat([Buffer.from([0x0b]), Buffer.alloc(size, 0x41), rng.chance(0.5) ? Buffer.from([0x1c, 0x0d]) : Buffer.alloc(0)]),
    };
  }
  if (r === 1) return { kind: 'drip', drip: true, bytes: mllpFrame(rng.pick(hl7Seeds)).subarray(0, 400) };
  if (r <= 3) return { kind: 'mutated-stream', bytes: mutate({ rng, seeds: mllpSeeds, tokens: HL7_TOKENS, maxBytes: 256 * 1024 }) };
  // Mutated messages, framed correctly: they reach the parser, and some get stored.
  const n = rng.range(1, 6);
  return {
    kind: 'framed-mutants',
    bytes: Buffer.concat(Array.from({ length: n }, () => mllpFrame(mutate({ rng, seeds: hl7Seeds, tokens: HL7_TOKENS, maxBytes: 64 * 1024 })))),
  };
}

const astmText = astmMessages().map((m) => Buffer.from(m, 'utf8'));
const astmWire = astmStreams();

export function astmAttack(rng: Rng): Attack {
  const r = rng.int(10);
  if (r === 0) return { kind: 'drip', drip: true, bytes: rng.pick(astmWire).subarray(0, 300) };
  if (r === 1) {
    // A frame that never ends (no ETX/ETB): bounded by the link's frame limit.
    return { kind: 'endless-frame', bytes: Buffer.concat([Buffer.from([0x05, 0x02, 0x31]), Buffer.alloc(rng.range(1000, 200_000), 0x41)]) };
  }
  if (r <= 4) return { kind: 'mutated-stream', bytes: mutate({ rng, seeds: astmWire, tokens: ASTM_TOKENS, maxBytes: 128 * 1024 }) };
  // Mutated records in good frames with good checksums: they reach the record parser and the journal.
  const n = rng.range(1, 3);
  return {
    kind: 'framed-mutants',
    bytes: Buffer.concat(
      Array.from({ length: n }, () =>
        astmTransmission(mutate({ rng, seeds: astmText, tokens: ASTM_TOKENS, maxBytes: 32 * 1024 }).toString('latin1'), rng.pick([247, 64, 1024])),
      ),
    ),
  };
}

const datasets = dicomDatasets().filter((d) => d.bytes.length < 64 * 1024);

function pdata(pc: number, command: boolean, last: boolean, data: Buffer): Buffer {
  return Buffer.concat(encodeDataPdu(pc, command, last, data));
}

export function dicomAttack(rng: Rng, creds: { callingAe: string; calledAe: string }): Attack {
  const calling = rng.chance(0.75) ? creds.callingAe : rng.pick(['ANYBODY', 'STORESCU', '', 'A'.repeat(16), 'MODALITY\\x']);
  const called = rng.chance(0.9) ? creds.calledAe : rng.pick(['ANY-SCP', '', 'EDGE ']);
  const r = rng.int(10);
  if (r <= 3) {
    // One PDU of a valid association damaged.
    const pdus = rng.pick(dicomAssociationPdus(calling, called));
    const k = rng.int(pdus.length);
    const damaged = pdus.map((p, i) => (i === k ? mutate({ rng, seeds: [p], tokens: DICOM_TOKENS, maxBytes: 256 * 1024 }) : p));
    return { kind: 'damaged-pdu', bytes: Buffer.concat(damaged) };
  }
  if (r <= 7) {
    // A C-STORE whose dataset is mutated but correctly framed: stored as received (the PACS may read what we cannot).
    const d = rng.pick(datasets);
    const dataset = mutate({ rng, seeds: [d.bytes], tokens: DICOM_TOKENS, maxBytes: 256 * 1024 });
    const uid = `2.25.5${rng.next()}${rng.next()}`;
    const rq = encodeAssociateRq({
      calledAe: called,
      callingAe: calling,
      contexts: [{ id: 1, abstractSyntax: '1.2.840.10008.5.1.4.1.1.2', transferSyntaxes: [d.transferSyntaxUid] }],
      user: { maxPduLength: 16384 },
    });
    const parts = [
      rq,
      pdata(
        1,
        true,
        true,
        encodeCommand({
          commandField: C_STORE_RQ,
          messageId: 1,
          affectedSopClassUid: '1.2.840.10008.5.1.4.1.1.2',
          affectedSopInstanceUid: uid,
          priority: 0,
          hasDataset: true,
        }),
      ),
    ];
    const fragment = rng.pick([1000, 8000, 16000]);
    for (let at = 0; at < dataset.length || at === 0; at += fragment)
      parts.push(pdata(1, false, at + fragment >= dataset.length, dataset.subarray(at, at + fragment)));
    if (rng.chance(0.8)) parts.push(encodeReleaseRq());
    return { kind: 'mutated-dataset', bytes: Buffer.concat(parts) };
  }
  if (r === 8) {
    // Command fragments that never end: the association holds them until its limit.
    const pdus = dicomAssociationPdus(calling, called)[0]!;
    const frag = pdata(3, true, false, Buffer.alloc(rng.range(100, 16000), 0x20));
    return { kind: 'endless-command', bytes: Buffer.concat([pdus[0]!, ...Array.from({ length: rng.range(10, 200) }, () => frag)]) };
  }
  return {
    kind: 'mutated-stream',
    bytes: mutate({ rng, seeds: dicomAssociationPdus(calling, called).map((p) => Buffer.concat(p)), tokens: DICOM_TOKENS, maxBytes: 256 * 1024 }),
  };
}

export function mqttAttack(rng: Rng, creds: { username?: string; password?: string }): Attack {
  const clientId = `atk-${rng.next().toString(36)}`;
  const withCreds = rng.chance(0.5) ? creds : {};
  if (rng.chance(0.5))
    return { kind: 'mutated-session', bytes: mutate({ rng, seeds: mqttSessions(clientId, withCreds), tokens: MQTT_TOKENS, maxBytes: 128 * 1024 }) };
  // A valid CONNECT, then mutated packets: they reach the broker's handlers, not only its parser.
  const packets = mqttPackets(clientId, withCreds);
  const version = rng.chance(0.5) ? 4 : 5;
  const own = packets.filter((p) => p.version === version).map((p) => mqttPacket.generate(p.packet, { protocolVersion: version }));
  const [connect, ...rest] = own;
  const n = rng.range(1, 8);
  return {
    kind: 'connected-mutants',
    bytes: Buffer.concat([connect!, ...Array.from({ length: n }, () => mutate({ rng, seeds: rest, tokens: MQTT_TOKENS, maxBytes: 64 * 1024 }))]),
  };
}

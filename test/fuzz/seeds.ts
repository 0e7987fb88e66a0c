/**
 * Seed corpora for the fuzzers, shared by the in-process targets and the listener attackers:
 * the real captures in fixtures/ (analyzer messages, DICOM files, card data) and a few
 * synthetic messages for the message types the fixtures lack. Everything is built from the
 * project's own encoders so a seed is valid on the wire before it is mutated.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqttPacket from 'mqtt-packet';
import { mllpFrame } from '../../modules/hl7/mllp.ts';
import { ENQ, EOT, splitIntoFrames } from '../../modules/astm/frame.ts';
import { encodeAssociateAc, encodeAssociateRq } from '../../modules/dicom/net/associate.ts';
import { C_ECHO_RQ, C_FIND_RQ, C_STORE_RQ, C_STORE_RSP, encodeCommand } from '../../modules/dicom/net/dimse.ts';
import { encodeAbort, encodeAssociateRj, encodeDataPdu, encodeReleaseRp, encodeReleaseRq } from '../../modules/dicom/net/pdu.ts';
import { parsePart10Header } from '../../modules/dicom/data/part10.ts';
import { sequenceElement, stringElement, writeDataset } from '../../modules/dicom/data/codec.ts';
import { IMPLICIT_LE } from '../../modules/dicom/data/transferSyntaxes.ts';

const ROOT = join(import.meta.dirname, '..', '..', 'fixtures');
const files = (dir: string, ext: string): string[] =>
  readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith(ext))
    .sort()
    .map((f) => join(ROOT, dir, f));

// ------------------------------------------------------------------ HL7

/** HL7 messages as text with CR segment ends. */
export function hl7Messages(): string[] {
  const fromFixtures = [...files('hl7', '.hl7'), ...files('his', '.hl7')].map((f) => readFileSync(f, 'utf8').replace(/\r?\n/g, '\r').replace(/\r*$/, '\r'));
  const synthetic = [
    [
      'MSH|^~\\&|BC-5380|Mindray|||20261122100000||QRY^Q02|Q7|P|2.3.1||||||UNICODE',
      'QRD|20261122100000|R|D|7|||RD|SID-001|OTH|||T',
      'QRF|BC-5380|||||RCT|COR|ALL||',
    ],
    ['MSH|^~\\&|CL-900i|Mindray|LIS||20261122100000||QBP^Q11^QBP_Q11|Q8|P|2.5.1||||||UNICODE UTF-8', 'QPD|WOS^Work Order Step^IHE_LABTF|TAG-9|SID-001'],
    [
      'MSH|^~\\&|LIS|BV|EDGE||20261122091500||ORM^O01|O1|P|2.3.1||||||UNICODE',
      'PID|1||BN-42||Nguyễn^Thị Ánh||19800101|F',
      'ORC|NW|P1|SID-001||||^^^^^S||20261122091000',
      'OBR|1|P1|SID-001|CBC-WBC^WBC',
      'ORC|CA|P2|SID-001',
      'OBR|2|P2|SID-001|CBC-HGB^HGB',
    ],
    [
      'MSH|^~\\&|HIS|BV|EDGE||20261122091500||OML^O21^OML_O21|O2|P|2.5.1||||||UNICODE UTF-8',
      'PID|1||BN-43||Trần^Văn Bình||19700505|M',
      'ORC|NW|P9',
      'OBR|1|P9||CREA^Creatinine',
      'SPM|1|SID-003||SER',
    ],
    [
      'MSH|^~\\&|HIS|BV|EDGE||20261203080000||OMI^O23^OMI_O23|O3|P|2.5.1||||||UNICODE UTF-8',
      'PID|1||BN-44||Lê^Thị Mai||19900303|F',
      'PV1|1|O|||||D01^Phạm^Văn^Bác sĩ',
      'ORC|NW|P10|ACC-1',
      'TQ1|1||||||20261203090000',
      'OBR|1|P10|ACC-1|CT01^CT sọ não|||||||||||||||||||CT||||||||||||20261203090000',
      'IPC|ACC-1|REQ-1|1.2.3.4.5|SPS-1|CT||CT Room|Khoa CĐHA|CT01',
    ],
    ['MSH#!@$%#DEV#FAC###20261122100000##ORU!R01#C9#P#2.5', 'PID###ID-7##Ng\\X41\\y!An', 'OBR#1##SID-9', 'OBX#1#NM#WBC!WBC##7.5#10*9/L#4-10#H~L###F'],
    [
      'MSH|^~\\&|DEV||||20261122100000||ORU^R01|E1|P|2.5|||AL|NE',
      'PID|1||\\F\\\\S\\\\T\\\\R\\\\E\\\\H\\x\\N\\||A^B',
      'OBR|1||SID-E',
      'OBX|1|ST|T^T||v\\X0D0A\\w||||||F',
      'OBX|2|ED|IMG||^AP^^Base64^AAAA||||||F',
    ],
    ['MSH|^~\\&|DEV||||20261122100000||ACK^R01|A1|P|2.5', 'MSA|AA|C9'],
  ].map((lines) => lines.join('\r') + '\r');
  return [...fromFixtures, ...synthetic];
}

export const HL7_TOKENS = [
  '|',
  '^',
  '~',
  '\\',
  '&',
  '\r',
  '\n',
  '\r\n',
  'MSH|^~\\&|',
  'MSH',
  'PID|',
  'OBR|',
  'OBX|',
  'ORC|',
  'SPM|',
  'QRD|',
  'QPD|',
  'IPC|',
  'TQ1|',
  'MSA|',
  '\\X',
  '\\F\\',
  '\\E\\',
  'ORU^R01',
  'OML^O21',
  'ORM^O01',
  'OMI^O23',
  'QRY^Q02',
  'QBP^Q11',
  'ACK',
  'UNICODE UTF-8',
  '8859/1',
  '\x0b',
  '\x1c',
  '\x1c\r',
].map((t) => Buffer.from(t, 'utf8'));

/** MLLP streams: single and coalesced frames, noise between frames, an unterminated frame. */
export function mllpStreams(): Buffer[] {
  const frames = hl7Messages().map((m) => mllpFrame(m));
  return [
    ...frames,
    Buffer.concat(frames.slice(0, 3)),
    Buffer.concat([Buffer.from('noise\r\n'), frames[0]!, Buffer.from([0x0b]), frames[1]!]),
    Buffer.concat([frames[2]!, Buffer.from([0x0b, 0x41, 0x1c, 0x41, 0x1c, 0x0d])]),
  ];
}

// ------------------------------------------------------------------ ASTM

/** ASTM E1394 message texts (records ending with CR). */
export function astmMessages(): string[] {
  return files('lab', '.astm').map((f) => readFileSync(f, 'utf8').replace(/\r?\n/g, '\r').replace(/\r*$/, '\r'));
}

export const ASTM_TOKENS = [
  '|',
  '\\',
  '^',
  '&',
  '\r',
  '\n',
  'H|\\^&|',
  'H|@^\\|',
  'P|1|',
  'O|1|',
  'R|1|',
  'Q|1|',
  'L|1|N',
  'C|1|',
  'M|1|',
  '&X0D&',
  '&F&',
  '\x02',
  '\x03',
  '\x04',
  '\x05',
  '\x06',
  '\x15',
  '\x17',
  '\x021',
  '\x17A0\r\n',
  '\x03FF\r\n',
].map((t) => Buffer.from(t, 'latin1'));

/** One E1381 transmission: ENQ, frames of `frameSize` bytes (FN from 1), EOT. */
export function astmTransmission(text: string, frameSize = 247): Buffer {
  return Buffer.concat([Buffer.of(ENQ), ...splitIntoFrames(Buffer.from(text, 'utf8'), frameSize), Buffer.of(EOT)]);
}

export function astmStreams(): Buffer[] {
  const msgs = astmMessages();
  return [
    ...msgs.map((m) => astmTransmission(m)),
    ...msgs.slice(0, 2).map((m) => astmTransmission(m, 40)),
    Buffer.concat(msgs.slice(0, 3).map((m) => astmTransmission(m))),
  ];
}

// ------------------------------------------------------------------ DICOM

export function dicomFiles(): Buffer[] {
  return [...files('dicom/pydicom', '.dcm'), ...files('dicom/charset', '.dcm')].map((f) => readFileSync(f));
}

/** The datasets of the fixture files (after the file meta group), with the encoding they are in. */
export function dicomDatasets(): Array<{ bytes: Buffer; transferSyntaxUid: string }> {
  const out: Array<{ bytes: Buffer; transferSyntaxUid: string }> = [];
  for (const file of dicomFiles()) {
    try {
      const meta = parsePart10Header(file);
      out.push({ bytes: file.subarray(meta.datasetOffset), transferSyntaxUid: meta.transferSyntaxUid });
    } catch {
      out.push({ bytes: file, transferSyntaxUid: '1.2.840.10008.1.2.1' }); // files without a meta group
    }
  }
  return out;
}

export const DICOM_TOKENS = [
  [0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff], // item, undefined length (LE)
  [0xfe, 0xff, 0x0d, 0xe0, 0x00, 0x00, 0x00, 0x00], // item delimitation
  [0xfe, 0xff, 0xdd, 0xe0, 0x00, 0x00, 0x00, 0x00], // sequence delimitation
  [0xff, 0xff, 0xff, 0xff],
  [0x08, 0x00, 0x05, 0x00, 0x43, 0x53, 0x0a, 0x00, ...Buffer.from('ISO 2022 ')], // (0008,0005) CS
  [0x10, 0x00, 0x10, 0x00, 0x50, 0x4e], // (0010,0010) PN
  [0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff], // pixel data OB undefined
  [0x40, 0x00, 0x00, 0x01, 0x53, 0x51, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff], // a sequence, undefined length
  [0x08, 0x00, 0x15, 0x11, 0x55, 0x4e, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff], // UN undefined length
  [0x1b, 0x24, 0x42], // ESC $ B
  [0x1b, 0x28, 0x42],
  [0x1b, 0x2d, 0x41],
  [0x1b, 0x24, 0x29, 0x43],
  [0x04, 0x00, 0x00, 0x00], // P-DATA-TF header start
  [0x01, 0x00, 0x00, 0x00],
  [0x51, 0x00, 0x00, 0x04],
  [0x20, 0x00],
  [0x03],
  [0x02],
].map((t) => Buffer.from(t));

const CT_IMAGE = '1.2.840.10008.5.1.4.1.1.2';
const MWL_FIND = '1.2.840.10008.5.1.4.31';
const VERIFICATION = '1.2.840.10008.1.1';
export const FUZZ_CALLING_AE = 'MODALITY';
export const FUZZ_CALLED_AE = 'EDGE';

/** A worklist query identifier as a modality sends it (implicit VR LE). */
export function worklistQuery(): Buffer {
  return writeDataset(
    [
      stringElement(0x00080050, 'SH', ''),
      stringElement(0x00100010, 'PN', ''),
      stringElement(0x00100020, 'LO', ''),
      sequenceElement(0x00400100, [
        [stringElement(0x00080060, 'CS', 'CT'), stringElement(0x00400001, 'AE', 'CT01'), stringElement(0x00400002, 'DA', '20261203-')],
      ]),
    ],
    IMPLICIT_LE,
  );
}

function pdata(pc: number, command: boolean, last: boolean, data: Buffer): Buffer {
  return Buffer.concat(encodeDataPdu(pc, command, last, data));
}

/**
 * Whole association streams as a modality writes them (it does not wait for each answer):
 * A-ASSOCIATE-RQ, then C-ECHO, C-STORE of a fixture dataset in fragments, or a worklist
 * C-FIND, then A-RELEASE-RQ. `callingAe` lets the listener attackers try listed and unlisted
 * callers. Each stream is returned as its PDUs, so a mutator can damage one PDU at a time.
 */
export function dicomAssociationPdus(callingAe = FUZZ_CALLING_AE, calledAe = FUZZ_CALLED_AE): Buffer[][] {
  const datasets = dicomDatasets().filter((d) => d.bytes.length < 64 * 1024);
  const rq = (abstract: string, ts: string[]) =>
    encodeAssociateRq({
      calledAe,
      callingAe,
      contexts: [
        { id: 1, abstractSyntax: abstract, transferSyntaxes: ts },
        { id: 3, abstractSyntax: VERIFICATION, transferSyntaxes: ['1.2.840.10008.1.2'] },
      ],
      user: { maxPduLength: 16384, implementationClassUid: '1.2.3.4', implementationVersionName: 'FUZZ' },
    });
  const echo = [
    rq(VERIFICATION, ['1.2.840.10008.1.2']),
    pdata(3, true, true, encodeCommand({ commandField: C_ECHO_RQ, messageId: 1, affectedSopClassUid: VERIFICATION, hasDataset: false })),
    encodeReleaseRq(),
  ];
  const find = [
    rq(MWL_FIND, ['1.2.840.10008.1.2']),
    pdata(1, true, true, encodeCommand({ commandField: C_FIND_RQ, messageId: 2, affectedSopClassUid: MWL_FIND, priority: 0, hasDataset: true })),
    pdata(1, false, true, worklistQuery()),
    encodeReleaseRq(),
  ];
  const stores = datasets.slice(0, 8).map((d, i) => {
    const uid = `2.25.${1000 + i}`;
    const command = pdata(
      1,
      true,
      true,
      encodeCommand({ commandField: C_STORE_RQ, messageId: 3 + i, affectedSopClassUid: CT_IMAGE, affectedSopInstanceUid: uid, priority: 0, hasDataset: true }),
    );
    const fragments: Buffer[] = [];
    for (let at = 0; at < d.bytes.length; at += 8000) fragments.push(pdata(1, false, at + 8000 >= d.bytes.length, d.bytes.subarray(at, at + 8000)));
    return [rq(CT_IMAGE, [d.transferSyntaxUid]), command, ...fragments, encodeReleaseRq()];
  });
  return [echo, find, ...stores];
}

/** PDU streams for the in-process PDU reader: association streams plus the other PDU types. */
export function dicomPduStreams(): Buffer[] {
  const ac = encodeAssociateAc({
    calledAe: 'EDGE',
    callingAe: 'MODALITY',
    contexts: [
      { id: 1, result: 0, transferSyntax: '1.2.840.10008.1.2' },
      { id: 3, result: 3 },
    ],
    user: { maxPduLength: 16384, implementationClassUid: '1.2.3', roles: [{ sopClassUid: '1.2.840.10008.1.20.1', scu: true, scp: true }] },
  });
  const rsp = pdata(
    1,
    true,
    true,
    encodeCommand({
      commandField: C_STORE_RSP,
      messageIdBeingRespondedTo: 3,
      affectedSopClassUid: CT_IMAGE,
      affectedSopInstanceUid: '2.25.1',
      hasDataset: false,
      status: 0,
    }),
  );
  return [
    ...dicomAssociationPdus().map((pdus) => Buffer.concat(pdus)),
    Buffer.concat([ac, rsp, encodeReleaseRp()]),
    encodeAssociateRj(1, 1, 3),
    encodeAbort(2, 6),
  ];
}

/** DIMSE command sets (implicit VR LE, group 0000). */
export function dimseCommands(): Buffer[] {
  return [
    encodeCommand({ commandField: C_ECHO_RQ, messageId: 1, affectedSopClassUid: VERIFICATION, hasDataset: false }),
    encodeCommand({ commandField: C_STORE_RQ, messageId: 7, affectedSopClassUid: CT_IMAGE, affectedSopInstanceUid: '2.25.99', priority: 0, hasDataset: true }),
    encodeCommand({
      commandField: C_STORE_RSP,
      messageIdBeingRespondedTo: 7,
      affectedSopClassUid: CT_IMAGE,
      hasDataset: false,
      status: 0xa700,
      errorComment: 'disk full',
    }),
    encodeCommand({ commandField: C_FIND_RQ, messageId: 2, affectedSopClassUid: MWL_FIND, priority: 0, hasDataset: true }),
    encodeCommand({
      commandField: 0x0100,
      messageId: 4,
      affectedSopClassUid: '1.2.840.10008.1.20.1',
      affectedSopInstanceUid: '1.2.840.10008.1.20.1.1',
      eventTypeId: 1,
      hasDataset: true,
    }),
    encodeCommand({
      commandField: 0x0130,
      messageId: 5,
      requestedSopClassUid: '1.2.840.10008.1.20.1',
      requestedSopInstanceUid: '1.2.840.10008.1.20.1.1',
      actionTypeId: 1,
      hasDataset: true,
    }),
  ];
}

// ------------------------------------------------------------------ CCCD

export function cccdHex(name: string): Buffer {
  return Buffer.from(readFileSync(join(ROOT, 'cccd', name), 'utf8').replace(/[^0-9a-fA-F]/g, ''), 'hex');
}

export function cccdQrTexts(): string[] {
  return ['qr_synthetic.txt', 'qr_mangled_synthetic.txt'].flatMap((f) =>
    readFileSync(join(ROOT, 'cccd', f), 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#')),
  );
}

export const BER_TOKENS = [
  [0x30, 0x80],
  [0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
  [0x30, 0x83, 0xff, 0xff, 0xff],
  [0x1e, 0x03, 0x00, 0x41, 0x00],
  [0x0c, 0x00],
  [0x02, 0x01, 0x01],
  [0x02, 0x07, 1, 2, 3, 4, 5, 6, 7],
  [0x06, 0x01, 0x80],
  [0x31, 0x00],
  [0x5f, 0x1f],
  [0x9f, 0xff, 0xff, 0xff, 0x7f],
  [0x6d, 0x82],
  [0x04, 0x81, 0x80],
  [0x00, 0x00],
  [0xff, 0xff],
].map((t) => Buffer.from(t));

// ------------------------------------------------------------------ MQTT

type MqttPacket = Parameters<typeof mqttPacket.generate>[0];

/** MQTT control packets (3.1.1 and 5), as clients of the LAN broker send them. */
export function mqttPackets(clientId = 'fuzz', opts: { username?: string; password?: string } = {}): Array<{ packet: MqttPacket; version: 4 | 5 }> {
  const auth = { ...(opts.username ? { username: opts.username } : {}), ...(opts.password ? { password: Buffer.from(opts.password) } : {}) };
  const connect4 = { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 30, ...auth } as MqttPacket;
  const connect5 = {
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 5,
    clean: true,
    clientId: `${clientId}5`,
    keepalive: 30,
    properties: { sessionExpiryInterval: 10, receiveMaximum: 10, maximumPacketSize: 1 << 20, userProperties: { a: 'b' } },
    will: { topic: 'fuzz/will', payload: Buffer.from('bye'), qos: 1, retain: false },
    ...auth,
  } as MqttPacket;
  const common = (v: 4 | 5): MqttPacket[] => [
    {
      cmd: 'subscribe',
      messageId: 1,
      subscriptions: [
        { topic: '#', qos: 1 },
        { topic: 'edge/+/+/+/state', qos: 0 },
      ],
    } as MqttPacket,
    { cmd: 'publish', topic: 'fuzz/echo', payload: Buffer.from('{"x":1}'), qos: 0, retain: false, dup: false } as MqttPacket,
    {
      cmd: 'publish',
      topic: 'fuzz/retained',
      payload: Buffer.from('r'.repeat(300)),
      qos: 1,
      messageId: 2,
      retain: true,
      dup: false,
      ...(v === 5 ? { properties: { messageExpiryInterval: 60, contentType: 'text/plain', topicAlias: 1 } } : {}),
    } as MqttPacket,
    { cmd: 'publish', topic: 'fuzz/q2', payload: Buffer.from('two'), qos: 2, messageId: 3, retain: false, dup: false } as MqttPacket,
    { cmd: 'pubrel', messageId: 3 } as MqttPacket,
    { cmd: 'unsubscribe', messageId: 4, unsubscriptions: ['#'] } as MqttPacket,
    { cmd: 'pingreq' } as MqttPacket,
    { cmd: 'disconnect' } as MqttPacket,
  ];
  return [
    { packet: connect4, version: 4 },
    ...common(4).map((packet) => ({ packet, version: 4 as const })),
    { packet: connect5, version: 5 },
    ...common(5).map((packet) => ({ packet, version: 5 as const })),
    { packet: { cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'x' } } as MqttPacket, version: 5 },
  ];
}

/** Whole client sessions (CONNECT first), one per protocol version. */
export function mqttSessions(clientId = 'fuzz', opts: { username?: string; password?: string } = {}): Buffer[] {
  const packets = mqttPackets(clientId, opts);
  const gen = (v: 4 | 5) => packets.filter((p) => p.version === v).map((p) => mqttPacket.generate(p.packet, { protocolVersion: v }));
  return [Buffer.concat(gen(4)), Buffer.concat(gen(5)), ...packets.map((p) => mqttPacket.generate(p.packet, { protocolVersion: p.version }))];
}

export const MQTT_TOKENS = [
  [0x10],
  [0x20],
  [0x30],
  [0x32],
  [0x3d],
  [0x82],
  [0xc0],
  [0xe0],
  [0xf0],
  [0xff, 0xff, 0xff, 0x7f],
  [0x80, 0x80, 0x80, 0x80, 0x01],
  [0x00, 0x04, 0x4d, 0x51, 0x54, 0x54],
  [0x05],
  [0x04],
  [0x23],
  [0x26],
  [0x00, 0x00],
].map((t) => Buffer.from(t));

import { buildAck } from '../../../modules/hl7/ack.ts';
import { buildQueryAnswer, Hl7QueryError, parseHostQuery } from '../../../modules/hl7/hostQuery.ts';
import { field, header, Hl7ParseError, parseHl7, segment } from '../../../modules/hl7/message.ts';
import { MllpDecoder, MllpFrameError } from '../../../modules/hl7/mllp.ts';
import { Hl7OrderError, ordersFromHl7 } from '../../../modules/hl7/orders.ts';
import { extractHl7Results } from '../../../modules/hl7/results.ts';
import { decodeText, LAB_TEXT_ENCODINGS } from '../../../modules/lab/encoding.ts';
import { resultIdentity } from '../../../modules/lab/result.ts';
import { chunksAt, type Rng } from '../lib/rng.ts';
import { oracle, type FuzzTarget } from '../lib/target.ts';
import { HL7_TOKENS, hl7Messages, mllpStreams } from '../seeds.ts';

const TZ = 'Asia/Ho_Chi_Minh';
const NOW = Date.UTC(2026, 11, 4, 3, 0, 0);

function decodeAll(decoder: MllpDecoder, chunks: Buffer[]): { messages: Buffer[]; errors: number } {
  const messages: Buffer[] = [];
  let errors = 0;
  for (const c of chunks) {
    const r = decoder.push(c);
    messages.push(...r.messages);
    errors += r.errors.length;
    for (const e of r.errors) oracle(e instanceof MllpFrameError, `MllpDecoder reported a ${e} that is not an MllpFrameError`);
  }
  return { messages, errors };
}

export const mllpTarget: FuzzTarget = {
  name: 'hl7.mllp',
  about:
    'MllpDecoder (modules/hl7/mllp.ts) fed a mutated MLLP stream whole and cut at random offsets. Checks: never throws; the same messages and error count whatever the split; no message holds VT or FS CR; total message bytes ≤ input; bytes held (pending) ≤ maxBytes.',
  seeds: mllpStreams,
  tokens: [Buffer.from([0x0b]), Buffer.from([0x1c]), Buffer.from([0x1c, 0x0d]), Buffer.from([0x0d]), ...HL7_TOKENS.slice(0, 12)],
  expected: () => false,
  run(input: Buffer, rng: Rng) {
    const maxBytes = rng.pick([64, 1024, 64 * 1024, 64 * 1024 * 1024]);
    const whole = decodeAll(new MllpDecoder(maxBytes), [input]);
    const splitDecoder = new MllpDecoder(maxBytes);
    const split = decodeAll(splitDecoder, chunksAt(input, rng.splits(input.length, 16)));
    oracle(whole.messages.length === split.messages.length, `split changed the message count: ${whole.messages.length} whole, ${split.messages.length} split`);
    whole.messages.forEach((m, i) => oracle(m.equals(split.messages[i]!), `split changed message ${i}`));
    oracle(whole.errors === split.errors, `split changed the error count: ${whole.errors} whole, ${split.errors} split`);
    let total = 0;
    for (const m of whole.messages) {
      total += m.length;
      oracle(!m.includes(0x0b), 'a decoded message holds VT');
      oracle(!m.includes(Buffer.from([0x1c, 0x0d])), 'a decoded message holds FS CR');
      oracle(m.length <= maxBytes, `a decoded message of ${m.length} bytes exceeds maxBytes ${maxBytes}`);
    }
    oracle(total <= input.length, 'decoded more bytes than received');
    oracle(splitDecoder.pending <= maxBytes, `decoder holds ${splitDecoder.pending} bytes, above maxBytes ${maxBytes}`);
  },
};

const ORDER = {
  specimenId: 'SID-001',
  tests: ['WBC', 'HGB'],
  patientId: 'BN-1',
  patientName: 'Nguyễn Thị Ánh',
  patientBirthDate: '19800101',
  patientSex: 'F',
  priority: 'S' as const,
  orderedAt: '2026-11-22T09:10:00+07:00',
};

export const messageTarget: FuzzTarget = {
  name: 'hl7.message',
  about:
    "The HL7 listener pipeline without the socket: decode in a lab encoding, parseHl7, header, then by message type extractHl7Results (+ resultIdentity), ordersFromHl7, parseHostQuery + buildQueryAnswer, and the AA/AR acknowledgements. Allowed errors: Hl7ParseError, Hl7OrderError, Hl7QueryError. Oracle: every reply the box would send parses as HL7 with the sender's delimiters, and an ACK's MSA-2 is the message's MSH-10.",
  seeds: () => hl7Messages().map((m) => Buffer.from(m, 'utf8')),
  tokens: HL7_TOKENS,
  expected: (err) => err instanceof Hl7ParseError || err instanceof Hl7OrderError || err instanceof Hl7QueryError,
  run(input: Buffer, rng: Rng) {
    const text = decodeText(input, rng.pick(LAB_TEXT_ENCODINGS));
    const msg = parseHl7(text);
    const hdr = header(msg);
    const opts = { delimiters: msg.delimiters, controlId: 'E1', nowMs: NOW, timeZone: TZ, application: 'EDGE' };
    const replies: string[] = [
      buildAck(hdr, 'AA', opts),
      buildAck(hdr, 'AR', { ...opts, text: `message not understood: ${text.slice(0, 40)}`, errorCode: '200' }),
    ];
    if (hdr.messageType === 'ORU' || hdr.messageType === 'OUL') {
      for (const r of extractHl7Results(msg, { device: 'fuzz', timezone: TZ, receivedAt: '2026-12-04T10:00:00+07:00', testCodes: { WBC: 'LIS-WBC' } }).results)
        resultIdentity(r);
    } else if (hdr.messageType === 'ORM' || hdr.messageType === 'OML' || hdr.messageType === 'OMI') {
      const batch = ordersFromHl7(msg, TZ);
      oracle(
        batch.orders.every((o) => o.specimenId.length > 0 && o.tests.length > 0),
        'an order without specimen or tests',
      );
    } else if (hdr.messageType === 'QRY' || hdr.messageType === 'QBP') {
      const query = parseHostQuery(msg, hdr);
      let n = 0;
      replies.push(
        ...buildQueryAnswer(hdr, query, rng.chance(0.5) ? ORDER : undefined, { ...opts, nextControlId: () => `Q${n++}`, testCodesToDevice: { WBC: 'W' } }),
      );
    }
    for (const reply of replies) {
      const parsed = parseHl7(reply);
      oracle(
        JSON.stringify(parsed.delimiters) === JSON.stringify(msg.delimiters),
        `reply delimiters ${JSON.stringify(parsed.delimiters)} differ from the message's ${JSON.stringify(msg.delimiters)}`,
      );
      const msa = segment(parsed, 'MSA');
      oracle(msa !== undefined, 'reply without MSA');
      oracle(field(msa, 2) === hdr.controlId, `reply MSA-2 "${field(msa, 2).slice(0, 30)}" is not MSH-10 "${hdr.controlId.slice(0, 30)}"`);
    }
  },
};

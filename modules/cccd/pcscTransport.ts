import type { ApduTransport } from './apdu.ts';
import { CardError } from './errors.ts';

/** The part of a pcsclite CardReader the transport needs. */
export interface PcscReaderLike {
  name: string;
  transmit(data: Buffer, resLen: number, protocol: number, cb: (err: unknown, response: Buffer) => void): void;
}

/** Largest response buffer: an extended-length answer plus secure messaging overhead. */
const RESPONSE_BUFFER = 65_538 + 64;

/** Maps a PC/SC error to a card error with a plain message. */
export function pcscError(err: unknown): CardError {
  const text = err instanceof Error ? err.message : String(err);
  if (/removed|reset|0x80100069|0x80100068|0x80100067|not connected|no smart card|0x8010000C/i.test(text)) {
    return new CardError('CARD_REMOVED', 'the card was removed during the read', { cause: err });
  }
  if (/service|0x8010001D|0x8010001E|no_service/i.test(text)) return new CardError('CARD_SERVICE_DOWN', 'the PC/SC service (pcscd) stopped', { cause: err });
  if (/reader|0x80100017|0x80100009/i.test(text)) return new CardError('CARD_READER_MISSING', 'the card reader was unplugged', { cause: err });
  return new CardError('CARD_REMOVED', `the card stopped answering: ${text}`, { cause: err });
}

/** APDUs through pcsclite; handles T=0's 61xx (GET RESPONSE). Counts commands sent. */
export function pcscTransport(reader: PcscReaderLike, protocol: number): ApduTransport & { count: number } {
  const once = (apdu: Buffer): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      reader.transmit(apdu, RESPONSE_BUFFER, protocol, (err, response) => (err ? reject(pcscError(err)) : resolve(response)));
    });
  const t = {
    count: 0,
    async transmit(apdu: Buffer): Promise<Buffer> {
      t.count++;
      let r = await once(apdu);
      // vpcd and some drivers hand back an empty answer when the card vanished mid-exchange.
      if (r.length < 2) throw new CardError('CARD_REMOVED', 'the card stopped answering (empty response)');
      const parts: Buffer[] = [];
      while (r.length >= 2 && r[r.length - 2] === 0x61) {
        parts.push(r.subarray(0, r.length - 2));
        t.count++;
        r = await once(Buffer.from([apdu[0]! & 0x03, 0xc0, 0, 0, r[r.length - 1]!]));
        if (r.length < 2) throw new CardError('CARD_REMOVED', 'the card stopped answering (empty response)');
      }
      return parts.length ? Buffer.concat([...parts, r]) : r;
    },
  };
  return t;
}

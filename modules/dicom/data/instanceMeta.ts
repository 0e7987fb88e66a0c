import { createReadStream } from 'node:fs';
import { createInflateRaw } from 'node:zlib';
import { Readable } from 'node:stream';
import { DicomParseError, PIXEL_DATA, getUid, getNumber, readElementAt, readElementHeader, sniffEncoding } from './codec.ts';
import type { DataElement } from './codec.ts';
import { characterSetOf, textOf } from './charset.ts';
import type { CharacterSet } from './charset.ts';
import { readPart10 } from './part10.ts';
import type { Part10Meta } from './part10.ts';
import { datasetEncodingOf } from './transferSyntaxes.ts';
import type { DatasetEncoding } from './transferSyntaxes.ts';

/**
 * What the box indexes about a received instance, read from its Part 10 file without loading
 * pixel data: the dataset is read element by element from a stream and reading stops at
 * (7FE0,0010), so a 500 MB instance costs a few hundred KB. Deflated datasets are inflated
 * on the fly for reading; the file stays as received.
 */

export interface InstanceMeta {
  patient: { id?: string; name?: string; birthDate?: string; sex?: string };
  study: { uid?: string; id?: string; date?: string; time?: string; accessionNumber?: string; description?: string; referringPhysician?: string };
  series: { uid?: string; modality?: string; number?: number; description?: string };
  instance: { sopClassUid: string; sopInstanceUid: string; number?: number; transferSyntaxUid: string; numberOfFrames?: number };
  /** (0008,0005) terms in force at the top level. */
  characterSet: string[];
  sourceAeTitle?: string;
}

export interface ScannedDataset {
  part10: Part10Meta;
  /** The encoding really used (after sniffing a mislabelled explicit/implicit VR). */
  encoding: DatasetEncoding;
  deflated: boolean;
  /** Top-level elements before the pixel data; byte ranges relative to the dataset's start. */
  elements: DataElement[];
  /** Dataset offset where reading stopped (the pixel data, or the end). */
  stoppedAt: number;
  /** Elements whose value was skipped unread because it was large (value left empty). */
  skipped: number[];
}

/** Values larger than this (overlay data, waveforms, private blobs) are skipped, not read. */
const SKIP_VALUES_OVER = 256 * 1024;
/** An undefined-length sequence before the pixel data larger than this is refused. */
const MAX_SEQUENCE_BYTES = 64 * 1024 * 1024;
const UNDEFINED = 0xffffffff;

/** Pulls bytes from a stream into a window that grows only as far as a single element needs. */
class ChunkReader {
  buf: Buffer = Buffer.alloc(0);
  /** Dataset offset of buf[0]. */
  position = 0;
  private readonly it: AsyncIterator<Buffer>;
  private ended = false;

  constructor(private readonly stream: Readable) {
    this.it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** True when at least n bytes are in the window; false when the stream ended first. */
  async ensure(n: number): Promise<boolean> {
    if (this.buf.length >= n || this.ended) return this.buf.length >= n;
    // Collect, then concatenate once: growing the window chunk by chunk would copy it quadratically.
    const parts: Buffer[] = [this.buf];
    let have = this.buf.length;
    while (have < n && !this.ended) {
      const next = await this.it.next();
      if (next.done) this.ended = true;
      else {
        parts.push(next.value);
        have += next.value.length;
      }
    }
    this.buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts, have);
    return this.buf.length >= n;
  }

  consume(n: number): void {
    this.buf = this.buf.subarray(n);
    this.position += n;
  }

  async skip(n: number): Promise<boolean> {
    while (n > 0) {
      if (this.buf.length === 0 && !(await this.ensure(1))) return false;
      const k = Math.min(n, this.buf.length);
      this.consume(k);
      n -= k;
    }
    return true;
  }

  get atEnd(): boolean {
    return this.ended && this.buf.length === 0;
  }

  close(): void {
    this.stream.destroy();
  }
}

function shiftRanges(e: DataElement, by: number): void {
  if (e.start !== undefined) e.start += by;
  if (e.end !== undefined) e.end += by;
  for (const item of e.items ?? []) for (const x of item) shiftRanges(x, by);
}

/**
 * createReadStream's `end` for a blob of `size` bytes: a just-received blob's file may be longer
 * than the blob for a moment (BlobStore's pool), so readers stop at the size they were given.
 */
export function readEnd(size: number | undefined): { end?: number } {
  return size === undefined ? {} : { end: size - 1 };
}

/** Reads the top-level elements of a Part 10 file (its first `size` bytes when given) up to its pixel data. */
export async function scanDataset(path: string, options: { stopAtTag?: number; size?: number } = {}): Promise<ScannedDataset> {
  const part10 = await readPart10(path);
  const ts = datasetEncodingOf(part10.transferSyntaxUid);
  // A C-STORE with an empty dataset is its Part 10 header alone: nothing to read (createReadStream
  // refuses an end before its start).
  const empty = options.size !== undefined && options.size <= part10.datasetOffset;
  const file = empty ? Readable.from([]) : createReadStream(path, { start: part10.datasetOffset, highWaterMark: 64 * 1024, ...readEnd(options.size) });
  const stream = ts.deflated ? file.pipe(createInflateRaw()) : file;
  if (ts.deflated) file.on('error', (err: Error) => stream.destroy(err));
  const reader = new ChunkReader(stream);
  const stopAt = options.stopAtTag ?? PIXEL_DATA;
  const elements: DataElement[] = [];
  const skipped: number[] = [];
  let encoding: DatasetEncoding = { explicitVr: ts.explicitVr, littleEndian: ts.littleEndian };
  try {
    if (await reader.ensure(8)) encoding = sniffEncoding(reader.buf, 0, encoding);
    for (;;) {
      if (!(await reader.ensure(8))) {
        if (reader.buf.length && reader.buf.some((x) => x !== 0))
          throw new DicomParseError('truncated', 'dataset ends inside an element header', reader.position);
        break;
      }
      await reader.ensure(12);
      const header = readElementHeader(reader.buf, 0, encoding);
      if (!header) throw new DicomParseError('truncated', 'dataset ends inside an element header', reader.position);
      if (header.tag >= stopAt) break;
      const start = reader.position;
      if (header.length !== UNDEFINED) {
        const total = header.headerLength + header.length;
        if (header.vr !== 'SQ' && header.length > SKIP_VALUES_OVER) {
          if (!(await reader.skip(total))) throw new DicomParseError('truncated', 'dataset ends inside a value', reader.position);
          elements.push({ tag: header.tag, vr: header.vr, value: Buffer.alloc(0), start, end: start + total });
          skipped.push(header.tag);
          continue;
        }
        if (total > MAX_SEQUENCE_BYTES) throw new DicomParseError('bad-length', 'sequence before the pixel data is too large to index', start);
        if (!(await reader.ensure(total))) throw new DicomParseError('truncated', 'dataset ends inside a value', start);
      }
      // Undefined length (or a small value): grow the window until the element is complete.
      let want = Math.max(reader.buf.length, 64 * 1024);
      let streamEnded = false;
      for (;;) {
        try {
          const { end } = readElementAt(reader.buf, 0, encoding);
          // Copy, so the values kept do not pin the whole read window in memory.
          const { element } = readElementAt(Buffer.from(reader.buf.subarray(0, end)), 0, encoding);
          shiftRanges(element, start);
          elements.push(element);
          reader.consume(end);
          break;
        } catch (err) {
          if (!(err instanceof DicomParseError) || err.code !== 'truncated') throw err;
          if (streamEnded) throw new DicomParseError('truncated', 'dataset ends inside a sequence', start);
          if (want > MAX_SEQUENCE_BYTES) throw new DicomParseError('bad-length', 'sequence before the pixel data is too large to index', start);
          want *= 2;
          streamEnded = !(await reader.ensure(want));
        }
      }
    }
  } catch (err) {
    if (err instanceof DicomParseError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'Z_DATA_ERROR' || (err as NodeJS.ErrnoException).code === 'Z_BUF_ERROR') {
      throw new DicomParseError('bad-deflate', `deflated dataset does not inflate: ${(err as Error).message}`, reader.position);
    }
    throw err;
  } finally {
    reader.close();
  }
  return { part10, encoding, deflated: ts.deflated, elements, stoppedAt: reader.position, skipped };
}

/** Patient, study, series and instance fields of a received Part 10 file (personal data included). */
export async function extractInstanceMeta(path: string, size?: number): Promise<InstanceMeta> {
  const scan = await scanDataset(path, size === undefined ? {} : { size });
  return instanceMetaOf(scan.elements, scan.part10, scan.encoding);
}

export function instanceMetaOf(elements: readonly DataElement[], part10: Part10Meta, encoding: DatasetEncoding): InstanceMeta {
  const cs: CharacterSet = characterSetOf(elements);
  const t = (tag: number): string | undefined => textOf(elements, tag, cs);
  const n = (tag: number): number | undefined => getNumber(elements, tag, encoding.littleEndian);
  const sopInstanceUid = getUid(elements, 0x00080018) ?? part10.sopInstanceUid;
  const sopClassUid = getUid(elements, 0x00080016) ?? part10.sopClassUid;
  if (!sopInstanceUid || !sopClassUid) throw new DicomParseError('bad-meta', 'instance without SOP Class/Instance UID', 0);
  const strip = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  const meta: InstanceMeta = {
    patient: strip({ id: t(0x00100020), name: t(0x00100010), birthDate: t(0x00100030), sex: t(0x00100040) }),
    study: strip({
      uid: getUid(elements, 0x0020000d),
      id: t(0x00200010),
      date: t(0x00080020),
      time: t(0x00080030),
      accessionNumber: t(0x00080050),
      description: t(0x00081030),
      referringPhysician: t(0x00080090),
    }),
    series: strip({ uid: getUid(elements, 0x0020000e), modality: t(0x00080060), number: n(0x00200011), description: t(0x0008103e) }),
    instance: strip({ sopClassUid, sopInstanceUid, number: n(0x00200013), transferSyntaxUid: part10.transferSyntaxUid, numberOfFrames: n(0x00280008) }),
    characterSet: [...cs],
  };
  if (part10.sourceAeTitle) meta.sourceAeTitle = part10.sourceAeTitle;
  return meta;
}

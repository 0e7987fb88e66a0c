import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { EscposPrinter } from '../../../modules/printer/escposPrinter.ts';
import { stylesFor, ticketLines, type TicketPrint } from '../../../modules/printer/ticketLayout.ts';
import { difference, lineDifference, recogniseNumber, splitLines, startPrinter, type PrinterSim } from '../../sim/printer.ts';
import { renderTicket } from '../../../modules/printer/ticketLayout.ts';
import { trim } from '../../sim/printer.ts';

const ARTIFACTS = 'test-artifacts/queue';
let sim: PrinterSim;
beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  sim = await startPrinter();
});
afterAll(async () => sim.stop());

const ticket: TicketPrint = {
  facility: 'Trung tâm Y tế huyện Đông Anh',
  service: 'Khám Nội',
  number: '0123',
  priority: 'Người từ 75 tuổi',
  issuedAtLocal: '08:05 22/11/2026',
  ahead: 3,
  qr: '20261122-noi-123',
  ticketId: '20261122-noi-123',
};

/** Vietnamese without its marks: what a printer in the wrong code page would show at best. */
const stripMarks = (s: string): string =>
  s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/đ/g, 'd')
    .replace(/Đ/g, 'D');

describe('ticket over ESC/POS raster to the printer simulator', () => {
  it('a Vietnamese ticket prints as bands; its text and number are read back from the dots alone', async () => {
    const printer = new EscposPrinter('p1', { transport: 'tcp', host: '127.0.0.1', port: sim.port, width: 576, bandRows: 96 });
    const jobP = sim.nextJob();
    const result = await printer.print(ticket);
    expect(result.ok, result.error).toBe(true);
    const job = await jobP;
    writeFileSync(`${ARTIFACTS}/ticket-576.png`, job.png);
    expect(job.cut).toBe(true);
    expect(job.text).toBe(''); // nothing in text mode
    expect(job.unknown).toEqual([]);
    expect(job.qr).toEqual(['20261122-noi-123']);
    expect(job.image.width).toBe(576);
    expect(job.bands.length).toBe(Math.ceil(job.image.height / 96));
    expect(job.bands.every((b) => b.height <= 96)).toBe(true);
    expect(sim.statusQueries).toBeGreaterThanOrEqual(2);

    const lines = splitLines(job.image);
    const expected = ticketLines(ticket, 576);
    expect(lines).toHaveLength(expected.length);
    expected.forEach((e, i) => {
      const d = lineDifference(lines[i]!, e.text, e.style, e.role === 'priority');
      expect(d, `line ${i} "${e.text}"`).toBeLessThan(0.02);
      if (stripMarks(e.text) !== e.text) {
        // The same words without diacritics do not match: the marks are in the dots.
        expect(lineDifference(lines[i]!, stripMarks(e.text), e.style, e.role === 'priority'), `stripped "${e.text}"`).toBeGreaterThan(0.05);
      }
    });
    const numberLine = lines[expected.findIndex((e) => e.role === 'number')]!;
    const read = recogniseNumber(numberLine, stylesFor(576).number);
    expect(read.text).toBe('0123');
    expect(read.worst).toBeLessThan(0.05);
    expect(lineDifference(numberLine, '0124', stylesFor(576).number)).toBeGreaterThan(0.05);
  });

  it('58 mm paper (384 dots) with a prefixed number', async () => {
    const printer = new EscposPrinter('p58', { transport: 'tcp', host: '127.0.0.1', port: sim.port, width: 384, bandRows: 64 });
    const t58 = { ...ticket, service: 'Xét nghiệm', number: 'X042', priority: null, qr: undefined };
    const jobP = sim.nextJob();
    expect((await printer.print(t58)).ok).toBe(true);
    const job = await jobP;
    writeFileSync(`${ARTIFACTS}/ticket-384.png`, job.png);
    expect(job.image.width).toBe(384);
    expect(job.qr).toEqual([]);
    const lines = splitLines(job.image);
    const expected = ticketLines(t58, 384);
    expect(lines).toHaveLength(expected.length);
    expect(lineDifference(lines[1]!, 'Xét nghiệm', stylesFor(384).service)).toBeLessThan(0.02);
    expect(recogniseNumber(lines[expected.findIndex((e) => e.role === 'number')]!, stylesFor(384).number).text).toBe('X042');
  });

  it('the decoded paper equals the rendered raster dot for dot', async () => {
    const printer = new EscposPrinter('p1', { transport: 'tcp', host: '127.0.0.1', port: sim.port, bandRows: 40, bandDelayMs: 2 });
    const jobP = sim.nextJob();
    await printer.print(ticket);
    const job = await jobP;
    const rendered = renderTicket(ticket, 576);
    expect(job.image.height).toBe(rendered.height);
    expect(Buffer.from(job.image.data).equals(Buffer.from(rendered.data))).toBe(true);
    expect(difference(trim(job.image), trim(rendered))).toBe(0);
  });

  it('paper out or cover open: nothing is printed, the job fails with the reason, a reprint works once fixed', async () => {
    const printer = new EscposPrinter('p1', { transport: 'tcp', host: '127.0.0.1', port: sim.port, retries: 2, retryDelayMs: 10 });
    const before = sim.jobs.length;
    sim.setState({ paperOut: true });
    const r1 = await printer.print(ticket);
    expect(r1).toMatchObject({ ok: false, attempts: 1, error: 'printer is out of paper' });
    expect(r1.status?.paperOut).toBe(true);
    sim.setState({ paperOut: false, coverOpen: true });
    const r2 = await printer.print(ticket);
    expect(r2).toMatchObject({ ok: false, error: 'printer cover is open' });
    expect(sim.jobs.length).toBe(before);
    sim.setState({ coverOpen: false });
    const status = await printer.queryStatus();
    expect(status).toMatchObject({ paperOut: false, coverOpen: false });
    const jobP = sim.nextJob();
    expect((await printer.print(ticket)).ok).toBe(true);
    expect((await jobP).cut).toBe(true);
    expect(printer.info()).toMatchObject({ printed: 1, failed: 2 });
  });

  it('an unreachable printer fails after its retries without throwing; jobs run one at a time', async () => {
    const dead = await startPrinter();
    const port = dead.port;
    await dead.stop();
    const printer = new EscposPrinter('gone', { transport: 'tcp', host: '127.0.0.1', port, retries: 1, retryDelayMs: 10 });
    const [a, b] = await Promise.all([printer.print(ticket), printer.print({ ...ticket, number: '0124' })]);
    expect(a.ok).toBe(false);
    expect(a.attempts).toBe(2);
    expect(a.error).toMatch(/ECONNREFUSED/);
    expect(b.ok).toBe(false);
    expect(printer.info().failed).toBe(2);
  });
});

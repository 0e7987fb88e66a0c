import type { LabOrder } from '../lab/index.ts';
import { joinRecords, serializeRecord, type AstmQuery, type Delimiters } from './records.ts';

/**
 * The answer to an instrument's host query (E1394 Q record): a new transfer with H, P, O, L.
 * O.26 = 'Q' (response to query) when the order is known; 'Y' (no order for these tests) or
 * 'Z' (no record of this specimen) when not. Test codes use `^^^code`.
 */
export function buildQueryAnswer(
  query: AstmQuery,
  lookup: (specimenId: string) => LabOrder | undefined,
  d: Delimiters,
  opts: { senderName?: string; now: string; testCodesToDevice?: Record<string, string> },
): string {
  const lines = [serializeRecord('H', ['H', '', '', '', opts.senderName ?? 'EDGE', '', '', '', '', '', '', 'P', '1', opts.now], d)];
  let seq = 1;
  for (const specimen of query.specimenIds.length ? query.specimenIds : ['']) {
    const order = specimen ? lookup(specimen) : undefined;
    const oFields: (string | string[] | undefined)[] = new Array(25).fill(undefined);
    oFields[0] = '1';
    oFields[1] = specimen;
    if (order) {
      const tests = order.tests.filter((t) => query.requestedTests.length === 0 || query.requestedTests.includes(t));
      lines.push(
        serializeRecord(
          'P',
          [String(seq), order.patientId ?? '', '', '', nameComponents(order.patientName), '', order.patientBirthDate ?? '', order.patientSex ?? ''],
          d,
        ),
      );
      // O.5: repeat of ^^^code; built raw so the repeat delimiter is not escaped.
      const testField = tests.map((t) => `${d.component}${d.component}${d.component}${opts.testCodesToDevice?.[t] ?? t}`).join(d.repeat);
      oFields[3] = '\u0000TESTS';
      oFields[4] = order.priority ?? 'R';
      oFields[10] = 'N';
      oFields[24] = tests.length ? 'Q' : 'Y';
      const line = serializeRecord('O', oFields, d).replace('\u0000TESTS', testField);
      lines.push(line);
    } else {
      lines.push(serializeRecord('P', [String(seq)], d));
      oFields[24] = 'Z';
      lines.push(serializeRecord('O', oFields, d));
    }
    seq++;
  }
  lines.push(serializeRecord('L', ['1', 'N'], d));
  return joinRecords(lines);
}

function nameComponents(name: string | undefined): string[] | undefined {
  if (!name) return undefined;
  const parts = name.trim().split(/\s+/);
  // Vietnamese order: family name first; ASTM P.6 is last^first^middle.
  return [parts[0] ?? '', parts[parts.length - 1] ?? '', parts.slice(1, -1).join(' ')];
}

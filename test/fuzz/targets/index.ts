import type { FuzzTarget } from '../lib/target.ts';
import { frameTarget, linkTarget, recordsTarget, sessionTarget } from './astm.ts';
import { berTarget, cardAccessTarget, dg13Target, dg1Target, efComTarget, qrTarget, sodTarget } from './cccd.ts';
import { charsetTarget, coerceTarget, datasetTarget, dimseTarget, part10Target, pduTarget, scanTarget } from './dicom.ts';
import { messageTarget, mllpTarget } from './hl7.ts';
import { mqttPacketTarget } from './mqtt.ts';

/** Every in-process fuzz target, in the order they take turns. */
export const TARGETS: readonly FuzzTarget[] = [
  mllpTarget,
  messageTarget,
  frameTarget,
  linkTarget,
  recordsTarget,
  sessionTarget,
  pduTarget,
  dimseTarget,
  datasetTarget,
  charsetTarget,
  part10Target,
  scanTarget,
  coerceTarget,
  qrTarget,
  berTarget,
  dg1Target,
  dg13Target,
  efComTarget,
  sodTarget,
  cardAccessTarget,
  mqttPacketTarget,
];

export function targetNamed(name: string): FuzzTarget {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`no fuzz target "${name}"; known: ${TARGETS.map((x) => x.name).join(', ')}`);
  return t;
}

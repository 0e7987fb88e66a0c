import type { EdgeModule } from '../core/contract/module.ts';
import { astmModule } from './astm/index.ts';
import { cccdModule } from './cccd/index.ts';
import { dicomModule } from './dicom/index.ts';
import { hisModule } from './his/index.ts';
import { hl7Module } from './hl7/index.ts';
import { httpIngestModule } from './http-ingest/index.ts';
import { kioskModule } from './kiosk/index.ts';
import { labModule } from './lab/index.ts';
import { printerModule } from './printer/index.ts';
import { queueModule } from './queue/index.ts';

/**
 * The one list of the box's modules, in start order (a module's services before those that
 * look them up at start): the CLI, the schema check and the tests take it from here.
 */
export const MODULES: readonly EdgeModule[] = [
  httpIngestModule,
  labModule,
  printerModule,
  astmModule,
  hl7Module,
  cccdModule,
  dicomModule,
  hisModule,
  queueModule,
  kioskModule,
];

import { pathHold, type DriverFactory } from '../../core/contract/driver.ts';
import { CccdReaderDriver, type CccdReaderConfig } from './readerDriver.ts';
import { QrScannerDriver, type QrScannerConfig } from './qrScanner.ts';
import type { EdgeModule } from '../../core/contract/module.ts';
import { CARD_IDENTITY, CARD_KEY, CARD_STATUS } from './events.ts';

export const cccdReaderDriverFactory: DriverFactory<CccdReaderConfig> = {
  type: 'cccd-reader',
  create: (ctx, config) => new CccdReaderDriver(ctx, config ?? {}),
};

export const qrScannerDriverFactory: DriverFactory<QrScannerConfig> = {
  type: 'qr-scanner',
  create: (ctx, config) => new QrScannerDriver(ctx, config),
  holds: (d) => pathHold(d.path),
};

export { readCccd, EmrtdSession } from './emrtd.ts';
export { parseCccdQr } from './qr.ts';
export type { CccdIdentity, IdentitySource } from './identity.ts';
export type { CardIdentityEvent, CardStatusEvent, CardKeyEvent } from './readerDriver.ts';

/** The CCCD chip reader and the serial QR scanner. */
export const cccdModule: EdgeModule = {
  name: 'cccd',
  drivers: [cccdReaderDriverFactory, qrScannerDriverFactory],
  events: [CARD_IDENTITY, CARD_STATUS, CARD_KEY],
  // Block schemas written without the common device fields: wrapped.
  schema: {
    devices: [
      { type: 'cccd-reader', file: new URL('./schema.json', import.meta.url), def: 'cccdReader', wrap: true },
      { type: 'qr-scanner', file: new URL('./schema.json', import.meta.url), def: 'qrScanner', wrap: true },
    ],
  },
  commands: [
    {
      name: 'card',
      usage: `  edge-agent card read [--reader NAME] (--qr TEXT | --mrz TEXT | --can DIGITS) [--dg2] [--show-pii]
                                                read a CCCD chip through pcscd; identity masked unless asked
`,
      async run(argv) {
        if (argv[0] !== 'read') {
          process.stderr.write('usage: edge-agent card read [--reader NAME] (--qr TEXT | --mrz TEXT | --can DIGITS) [--dg2] [--show-pii]\n');
          return 2;
        }
        // pcsclite's threads can hold the process open: the CLI's exit ends it once printed.
        const { runCardRead } = await import('./cli.ts');
        return runCardRead(argv.slice(1));
      },
    },
  ],
};

// For the other modules (they import this index only).
export { CardError } from './errors.ts';
export { patientMessageOf } from './errors.ts';
export { QR_UNREADABLE_MESSAGE } from './errors.ts';
export { CccdNumberError } from './idNumber.ts';
export { isValidCccdNumber } from './idNumber.ts';
export { identityFromQr } from './identity.ts';
export { identityFromTypedId } from './identity.ts';

export { CARD_IDENTITY, CARD_KEY, CARD_STATUS } from './events.ts';

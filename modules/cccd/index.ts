import type { DriverFactory } from '../../core/contract/driver.ts';
import { CccdReaderDriver, type CccdReaderConfig } from './readerDriver.ts';
import { QrScannerDriver, type QrScannerConfig } from './qrScanner.ts';
import type { EdgeModule } from '../../core/contract/module.ts';

export const cccdReaderDriverFactory: DriverFactory<CccdReaderConfig> = {
  type: 'cccd-reader',
  create: (ctx, config) => new CccdReaderDriver(ctx, config ?? {}),
};

export const qrScannerDriverFactory: DriverFactory<QrScannerConfig> = {
  type: 'qr-scanner',
  create: (ctx, config) => new QrScannerDriver(ctx, config),
};

export { readCccd, EmrtdSession } from './emrtd.ts';
export { parseCccdQr } from './qr.ts';
export type { CccdIdentity, IdentitySource } from './identity.ts';
export type { CardIdentityEvent, CardStatusEvent, CardKeyEvent } from './readerDriver.ts';
export { runCardRead } from './cli.ts';

/** The CCCD chip reader and the serial QR scanner. */
export const cccdModule: EdgeModule = { name: 'cccd', drivers: [cccdReaderDriverFactory, qrScannerDriverFactory] };

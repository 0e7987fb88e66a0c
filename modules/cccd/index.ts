import type { DriverFactory } from '../../core/contract/driver.ts';
import { CccdReaderDriver, type CccdReaderConfig } from './readerDriver.ts';
import { QrScannerDriver, type QrScannerConfig } from './qrScanner.ts';

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

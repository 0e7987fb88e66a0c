import { CccdReaderDriver } from "./readerDriver.js";
import { QrScannerDriver } from "./qrScanner.js";
export const cccdReaderDriverFactory = {
    type: 'cccd-reader',
    create: (ctx, config) => new CccdReaderDriver(ctx, config ?? {}),
};
export const qrScannerDriverFactory = {
    type: 'qr-scanner',
    create: (ctx, config) => new QrScannerDriver(ctx, config),
};
export { readCccd, EmrtdSession } from "./emrtd.js";
export { parseCccdQr } from "./qr.js";
export { runCardRead } from "./cli.js";

import { astmDriverFactory } from "../drivers/astm/index.js";
import { astmLisDestinationFactory } from "../drivers/astm/lisDestination.js";
import { cccdReaderDriverFactory, qrScannerDriverFactory } from "../drivers/cccd/index.js";
import { hl7DriverFactory } from "../drivers/hl7/index.js";
import { hl7LisDestinationFactory } from "../drivers/hl7/lisDestination.js";
import { httpIngestDriverFactory } from "../drivers/http-ingest/index.js";
import { printerDriverFactory } from "../drivers/printer/index.js";
import { dicomCStoreDestinationFactory, dicomScpDriverFactory, dicomStowRsDestinationFactory } from "../drivers/dicom/index.js";
import { httpJsonDestinationFactory } from "./forward/httpJson.js";
import { mqttUplinkDestinationFactory } from "./forward/mqttUplink.js";
import { hisHl7DestinationFactory, hisHttpDestinationFactory } from "./his/index.js";
/**
 * Protocol drivers and destination kinds by their configuration `driver`/`type` name. Adding a
 * device protocol is one line here plus its block in config/schema.json.
 */
export const driverFactories = new Map([
    [httpIngestDriverFactory.type, httpIngestDriverFactory],
    [astmDriverFactory.type, astmDriverFactory],
    [cccdReaderDriverFactory.type, cccdReaderDriverFactory],
    [qrScannerDriverFactory.type, qrScannerDriverFactory],
    [hl7DriverFactory.type, hl7DriverFactory],
    [printerDriverFactory.type, printerDriverFactory],
    [dicomScpDriverFactory.type, dicomScpDriverFactory],
]);
export const destinationFactories = new Map([
    [httpJsonDestinationFactory.type, httpJsonDestinationFactory],
    [mqttUplinkDestinationFactory.type, mqttUplinkDestinationFactory],
    [astmLisDestinationFactory.type, astmLisDestinationFactory],
    [hisHttpDestinationFactory.type, hisHttpDestinationFactory],
    [hisHl7DestinationFactory.type, hisHl7DestinationFactory],
    [hl7LisDestinationFactory.type, hl7LisDestinationFactory],
    [dicomCStoreDestinationFactory.type, dicomCStoreDestinationFactory],
    [dicomStowRsDestinationFactory.type, dicomStowRsDestinationFactory],
]);

import { isoWithOffset } from "../clock.js";
import { buildAdtA04 } from "./adtA04.js";
import { MllpClient } from "./mllpClient.js";
import { scrubPersonal } from "./scrub.js";
/**
 * Check-in registration as HL7 v2 ADT^A04 over MLLP. Done only on an application ACK: AA (or
 * CA) → ok; AE/AR (CE/CR) → permanent, parked with the HIS's text; no ACK in time, a closed
 * connection or a refused connect → retry with the same control id.
 */
export class HisHl7Destination {
    id;
    config;
    now;
    client;
    constructor(id, config, 
    /** MSH-7 in the box's local time with its offset. */
    now = () => isoWithOffset(Date.now(), 'Asia/Ho_Chi_Minh')) {
        this.id = id;
        this.config = config;
        this.now = now;
        this.client = new MllpClient({ host: config.host, port: config.port, connectTimeoutMs: config.connectTimeoutMs, ackTimeoutMs: config.ackTimeoutMs });
    }
    async stop() {
        this.client.close();
    }
    async deliver(item, signal) {
        const checkIn = item.parsed;
        if (!checkIn || typeof checkIn !== 'object' || !checkIn.identity || !checkIn.ticket) {
            return { result: 'permanent', reason: `item ${item.idempotencyKey} is not a HIS check-in (stream ${item.stream})` };
        }
        const { message, controlId } = buildAdtA04(checkIn, item.idempotencyKey, this.now(), this.config);
        let ack;
        try {
            ack = await this.client.send(message, controlId, signal);
        }
        catch (err) {
            return { result: 'retry', reason: `${this.config.host}:${this.config.port}: ${err.message}` };
        }
        const text = scrubPersonal(ack.text, checkIn.identity);
        if (ack.code === 'AA' || ack.code === 'CA')
            return { result: 'ok', detail: `ACK ${ack.code} ${controlId}` };
        if (['AE', 'AR', 'CE', 'CR'].includes(ack.code))
            return { result: 'permanent', reason: `HIS answered ${ack.code} for ${controlId}${text ? `: ${text}` : ''}` };
        return { result: 'retry', reason: `HIS answered an unknown acknowledgement code '${ack.code}' for ${controlId}` };
    }
}
export const hisHl7DestinationFactory = {
    type: 'his-hl7',
    create: (ctx, config) => new HisHl7Destination(ctx.id, config, () => isoWithOffset(Date.now(), ctx.box?.timezone ?? 'Asia/Ho_Chi_Minh')),
};

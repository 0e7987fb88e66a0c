import { checkInJournalInput, checkInKey } from "./contract.js";
/**
 * `registerCheckIn` of the HIS contract: journals the check-in (personal, clinical priority)
 * routed to the configured HIS destination. It resolves once the entry is on disk, so the ticket
 * is issued even when the HIS is down; the destination delivers the registration later.
 */
export class CheckInRegistrar {
    journal;
    hisDestination;
    constructor(journal, hisDestination) {
        this.journal = journal;
        this.hisDestination = hisDestination;
    }
    async registerCheckIn(checkIn) {
        if (!/^\d{12}$/.test(checkIn.identity.idNumber))
            throw new RangeError('a check-in needs a 12-digit CCCD number');
        const result = await this.journal.append(checkInJournalInput(checkIn, this.hisDestination));
        return { journalId: result.id, idempotencyKey: checkInKey(checkIn), duplicate: result.duplicate, state: 'queued' };
    }
}

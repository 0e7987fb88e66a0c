import type { Journal } from '../../core/contract/driver.ts';
import { checkInJournalInput, checkInKey, type HisCheckIn } from './contract.ts';

/** What the kiosk learns at once: the registration is durable and will reach the HIS. */
export interface CheckInReceipt {
  journalId: number;
  idempotencyKey: string;
  /** true: this ticket's check-in was already journaled (a double tap, a page reload). */
  duplicate: boolean;
  /** Always 'queued': delivery happens in the outbox, whatever the HIS's state now. */
  state: 'queued';
}

/**
 * `registerCheckIn` of the HIS contract: journals the check-in (personal, clinical priority)
 * routed to the configured HIS destination. It resolves once the entry is on disk, so the ticket
 * is issued even when the HIS is down; the destination delivers the registration later.
 */
export class CheckInRegistrar {
  constructor(
    private readonly journal: Journal,
    private readonly hisDestination: string,
  ) {}

  async registerCheckIn(checkIn: HisCheckIn): Promise<CheckInReceipt> {
    if (!/^\d{12}$/.test(checkIn.identity.idNumber)) throw new RangeError('a check-in needs a 12-digit CCCD number');
    const result = await this.journal.append(checkInJournalInput(checkIn, this.hisDestination));
    return { journalId: result.id, idempotencyKey: checkInKey(checkIn), duplicate: result.duplicate, state: 'queued' };
  }
}

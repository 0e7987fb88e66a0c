import { domainEvent } from '../../core/contract/events.ts';
import type { CardIdentityEvent, CardKeyEvent, CardStatusEvent } from './readerDriver.ts';

// The card's events: identities and key material are personal, so they never leave the process.
/** Who was read (chip, QR, typed number), for the kiosk page. */
export const CARD_IDENTITY = domainEvent<CardIdentityEvent>('card/identity', 'local');
/** The reader's state and errors, with the patient's Vietnamese sentence. */
export const CARD_STATUS = domainEvent<CardStatusEvent>('card/status', 'local');
/** Key material the kiosk got (QR text, typed digits, MRZ) that opens the chip. */
export const CARD_KEY = domainEvent<CardKeyEvent>('card/key', 'local');

export class CardError extends Error {
    code;
    constructor(code, message, options) {
        super(message, options);
        this.name = 'CardError';
        this.code = code;
    }
}
/** A structure that does not follow its standard: the only error a parser may throw. */
export class CardParseError extends CardError {
    constructor(message) {
        super('CARD_PARSE', message);
        this.name = 'CardParseError';
    }
}
export const plainMessages = {
    CARD_WRONG_KEY: 'The card refused the key: check the number, date of birth and expiry date, or scan the QR code again.',
    CARD_REMOVED: 'The card was removed before it was read. Please hold the card on the reader until the screen says done.',
    CARD_NO_KEY: 'Scan the QR code on the card or type the 12-digit number first, then tap the card again.',
    CARD_NOT_CCCD: 'This card is not a Vietnamese citizen ID card (CCCD).',
    CARD_ACCESS_DENIED: 'The card did not allow reading this data.',
    CARD_SM_FAILED: 'The secure connection to the card failed. Please tap the card again.',
    CARD_PROTOCOL: 'The card answered in an unexpected way. Please tap the card again or ask staff for help.',
    CARD_REJECTED: 'The card data failed the integrity check: it may have been altered. Please ask staff for help.',
    CARD_READER_MISSING: 'No card reader is connected. Please ask staff to check the reader cable.',
    CARD_SERVICE_DOWN: 'The card reader service (pcscd) is not running. Please ask staff for help.',
    CARD_PARSE: 'The card data could not be understood. Please ask staff for help.',
};

/** Named store errors, so a driver can choose its negative acknowledgement and a log can be searched. */
export class StoreError extends Error {
    code;
    constructor(code, message, options) {
        super(message, options);
        this.code = code;
        this.name = 'StoreError';
    }
}
/** Maps a SQLite or file-system failure to a StoreError with a sentence IT staff can act on. */
export function toStoreError(err) {
    if (err instanceof StoreError)
        return err;
    const code = err.code ?? '';
    if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT') {
        return new StoreError('EDGE_STORE_FULL', 'the disk holding the journal is full: free space or raise the volume size', { cause: err });
    }
    const text = err instanceof Error ? err.message : String(err);
    return new StoreError('EDGE_STORE_FAILED', `the journal could not be written (${code || 'error'}: ${text})`, { cause: err });
}

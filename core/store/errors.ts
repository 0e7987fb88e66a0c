/** Named store errors, so a driver can choose its negative acknowledgement and a log can be searched. */
export class StoreError extends Error {
  constructor(
    readonly code: 'EDGE_STORE_FULL' | 'EDGE_STORE_BUDGET' | 'EDGE_STORE_FAILED' | 'EDGE_STORE_CLOSED',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreError';
  }
}

/** Maps a SQLite or file-system failure to a StoreError with a sentence IT staff can act on. */
export function toStoreError(err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  const code = (err as { code?: string }).code ?? '';
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT') {
    return new StoreError('EDGE_STORE_FULL', 'the disk holding the journal is full: free space or raise the volume size', { cause: err });
  }
  const text = err instanceof Error ? err.message : String(err);
  return new StoreError('EDGE_STORE_FAILED', `the journal could not be written (${code || 'error'}: ${text})`, { cause: err });
}

// The store's parts a module may hold (ModuleContext.store): the outbox, for state it keeps per
// forwarded entry (DICOM storage commitment).
export type { Outbox } from '../store/outbox.ts';

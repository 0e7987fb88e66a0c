// Personal-data masking for modules' logs and texts (CCCD numbers, names, addresses).
export * from '../mask.ts';

// What modules' listeners and self-tests share (the core's net/ helpers): allow-lists, caps,
// idle close and TLS, refusal logging, TCP probes. Modules import them from here only.
export * from '../net/guardedListener.ts';
export * from '../net/peers.ts';
export * from '../net/refusalLog.ts';
export * from '../net/tcpProbe.ts';
export * from '../net/tls.ts';

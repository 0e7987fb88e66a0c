#!/usr/bin/env node
// `npm run fuzz -- --minutes N` (or --hours N): the parser and listener fuzzers (docs/FUZZING.md).
// The fuzzers are TypeScript, run through tsx's loader like the agent itself.
import { register } from 'tsx/esm/api';

register();
await import('../test/fuzz/main.ts');

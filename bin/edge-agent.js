#!/usr/bin/env node
// The agent runs its TypeScript sources through tsx's loader: no build step on the box.
import { register } from 'tsx/esm/api';

register();
await import('../main.ts');

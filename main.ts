// The box: the core and the modules it runs (modules/index.ts). The core imports no module;
// this composition root is where they meet (issue #18).
import { runCli } from './core/cli.ts';
import { MODULES } from './modules/index.ts';

runCli(process.argv.slice(2), MODULES);

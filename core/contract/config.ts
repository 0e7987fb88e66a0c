// The configuration as modules see it. A module adds its own top-level block by augmenting
// `ModuleConfigBlocks` in core/config/types.ts (`declare module`), never by editing the core.
export type { AgentConfig, ConfigProblem, DestinationConfig, DeviceConfig, ModuleConfigBlocks } from '../config/types.ts';

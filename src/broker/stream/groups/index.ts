// Consumer groups and committed offsets of streams: the public surface for the protocol adapters.

export type * from './api.js';
export { GROUP_ERROR_KINDS } from './errors.js';
export { GROUP_CONFIG_DEFAULTS, type GroupConfig } from './config.js';
export type { GroupState } from './group.js';
export { GroupCoordinator, type GroupCoordinatorFileOptions, type GroupCoordinatorOptions } from './coordinator.js';
export { OffsetStore, type OffsetStoreFileOptions, type OffsetStoreOptions, type OffsetStoreStats } from './offset-store.js';
export { realScheduler, type Scheduler, type TimerHandle } from './scheduler.js';
export { OFFSETS_TOPIC, ReplicatedGroups, offsetsPartitionFor, type CoordinatorLookup, type CoordinatorRefusal } from './replicated.js';

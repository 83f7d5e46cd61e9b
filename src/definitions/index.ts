// Definitions in RabbitMQ's JSON format: export (export.ts) and import (import.ts),
// shared by the management API, `--definitions FILE` at start and the offline CLI.

export { exportDefinitions } from './export.js';
export { importDefinitions, importFailure, type ImportOptions, type ImportSummary } from './import.js';
export { DefinitionsError, type Definitions } from './format.js';

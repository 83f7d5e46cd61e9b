// Transactions over streams (Kafka's exactly-once): the public surface for the protocol adapters.

export type * from './api.js';
export { TXN_ERROR_KINDS } from './errors.js';
export { TXN_CONFIG_DEFAULTS, type TxnConfig } from './config.js';
export { COORDINATOR_EPOCH, TransactionCoordinator, type TransactionCoordinatorFileOptions, type TransactionCoordinatorOptions } from './coordinator.js';
export { TxnStore, type TxnStoreFileOptions, type TxnStoreOptions } from './txn-store.js';
export { ReplicatedTransactions, TXN_TOPIC, type ReplicatedTransactionsOptions, type TxnLookup } from './replicated.js';

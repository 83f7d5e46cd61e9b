// Settings of the transaction coordinator, with Kafka's broker defaults (the names in the comments
// are the Kafka broker configs they stand for).

export interface TxnConfig {
  /** transaction.max.timeout.ms: InitProducerId asking for a longer transaction.timeout.ms gets INVALID_TRANSACTION_TIMEOUT. */
  readonly maxTimeoutMs: number;
  /** transaction.abort.timed.out.transaction.cleanup.interval.ms: how often transactions past their timeout are aborted. */
  readonly abortCheckIntervalMs: number;
  /** transactional.id.expiration.ms: an id with no transaction for this long is forgotten. */
  readonly idExpirationMs: number;
  /** transaction.remove.expired.transaction.cleanup.interval.ms: how often expired ids are removed. */
  readonly idExpirationCheckIntervalMs: number;
  /** How long to wait before writing markers again after a partition or the offsets log failed a write (Kafka retries without end too). */
  readonly markerRetryMs: number;
}

export const TXN_CONFIG_DEFAULTS: TxnConfig = {
  maxTimeoutMs: 900_000,
  abortCheckIntervalMs: 10_000,
  idExpirationMs: 7 * 24 * 60 * 60_000,
  idExpirationCheckIntervalMs: 60 * 60_000,
  markerRetryMs: 1_000,
};

/** Defaults filled in; throws RangeError for a value that cannot work. */
export function resolveTxnConfig(partial: Partial<TxnConfig> = {}): TxnConfig {
  const c: TxnConfig = { ...TXN_CONFIG_DEFAULTS, ...partial };
  for (const [name, value] of Object.entries(c)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`transaction config ${name} must be an integer >= 1, not ${String(value)}`);
  }
  return c;
}

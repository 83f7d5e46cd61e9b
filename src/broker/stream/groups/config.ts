// Settings of the group coordinator, with Kafka's broker defaults (names in the comments are the
// Kafka broker configs they stand for).

export interface GroupConfig {
  /** group.min.session.timeout.ms: a JoinGroup asking for less gets INVALID_SESSION_TIMEOUT. */
  readonly minSessionTimeoutMs: number;
  /** group.max.session.timeout.ms: a JoinGroup asking for more gets INVALID_SESSION_TIMEOUT. */
  readonly maxSessionTimeoutMs: number;
  /**
   * group.initial.rebalance.delay.ms: the first rebalance of an empty group waits this long (and
   * again, up to the rebalance timeout, while new members keep arriving) so that a consumer group
   * starting up gets one rebalance instead of one per member.
   */
  readonly initialRebalanceDelayMs: number;
  /** group.max.size: members beyond it get GROUP_MAX_SIZE_REACHED. */
  readonly maxSize: number;
  /**
   * A new member's JoinGroup is held at most this long (Kafka's fixed 5 minutes): a client that
   * gave up on it would otherwise linger as a defunct member of every rebalance.
   */
  readonly newMemberJoinTimeoutMs: number;
  /** offset.metadata.max.bytes (counted in UTF-16 units, as Kafka counts String.length). */
  readonly offsetMetadataMaxBytes: number;
  /** offsets.retention.minutes, in ms: how long offsets outlive the group's last member. */
  readonly offsetsRetentionMs: number;
  /** offsets.retention.check.interval.ms: how often expired offsets and dead groups are removed. */
  readonly offsetsRetentionCheckIntervalMs: number;
}

export const GROUP_CONFIG_DEFAULTS: GroupConfig = {
  minSessionTimeoutMs: 6_000,
  maxSessionTimeoutMs: 1_800_000,
  initialRebalanceDelayMs: 3_000,
  maxSize: Number.MAX_SAFE_INTEGER,
  newMemberJoinTimeoutMs: 5 * 60_000,
  offsetMetadataMaxBytes: 4096,
  offsetsRetentionMs: 7 * 24 * 60 * 60_000,
  offsetsRetentionCheckIntervalMs: 600_000,
};

/** Defaults filled in; throws RangeError for a value that cannot work. */
export function resolveGroupConfig(partial: Partial<GroupConfig> = {}): GroupConfig {
  const c: GroupConfig = { ...GROUP_CONFIG_DEFAULTS, ...partial };
  for (const [name, value] of Object.entries(c)) {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`group config ${name} must be an integer >= 0, not ${String(value)}`);
  }
  if (c.minSessionTimeoutMs > c.maxSessionTimeoutMs) throw new RangeError('minSessionTimeoutMs is above maxSessionTimeoutMs');
  if (c.maxSize < 1) throw new RangeError('maxSize must be >= 1');
  if (c.offsetsRetentionCheckIntervalMs < 1) throw new RangeError('offsetsRetentionCheckIntervalMs must be >= 1');
  return c;
}

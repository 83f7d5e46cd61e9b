// Errors of consumer groups and committed offsets, in the domain's words. They are results, not
// exceptions: the group protocol answers most requests with an error code and carries on, and many
// answers hold one error per member or per partition. Each kind is named after the Kafka error it
// stands for, lowercased and dashed; the Kafka adapter maps it to the code:
//
//   kind                          Kafka error                     code
//   'coordinator-not-available'   COORDINATOR_NOT_AVAILABLE       15  (also: the offsets log failed
//                                                                      a write; clients retry)
//   'illegal-generation'          ILLEGAL_GENERATION              22
//   'inconsistent-group-protocol' INCONSISTENT_GROUP_PROTOCOL     23
//   'invalid-group-id'            INVALID_GROUP_ID                24
//   'unknown-member-id'           UNKNOWN_MEMBER_ID               25
//   'invalid-session-timeout'     INVALID_SESSION_TIMEOUT         26
//   'rebalance-in-progress'       REBALANCE_IN_PROGRESS           27
//   'invalid-commit-offset-size'  INVALID_COMMIT_OFFSET_SIZE      28  (an offset that is not a safe
//                                                                      integer, a commit too big to log)
//   'offset-metadata-too-large'   OFFSET_METADATA_TOO_LARGE       12
//   'non-empty-group'             NON_EMPTY_GROUP                 68
//   'group-id-not-found'          GROUP_ID_NOT_FOUND              69  (OffsetCommit below v9 says
//                                                                      ILLEGAL_GENERATION instead:
//                                                                      the adapter maps it per version)
//   'member-id-required'          MEMBER_ID_REQUIRED              79
//   'group-max-size-reached'      GROUP_MAX_SIZE_REACHED          81
//   'fenced-instance-id'          FENCED_INSTANCE_ID              82
//   'group-subscribed-to-topic'   GROUP_SUBSCRIBED_TO_TOPIC       86
//   'unstable-offset-commit'      UNSTABLE_OFFSET_COMMIT          88  (OffsetFetch with require_stable:
//                                                                      an open transaction committed
//                                                                      an offset for the partition)
//   'unknown-server-error'        UNKNOWN_SERVER_ERROR            -1

export type GroupErrorKind =
  | 'coordinator-not-available'
  | 'illegal-generation'
  | 'inconsistent-group-protocol'
  | 'invalid-group-id'
  | 'unknown-member-id'
  | 'invalid-session-timeout'
  | 'rebalance-in-progress'
  | 'invalid-commit-offset-size'
  | 'offset-metadata-too-large'
  | 'non-empty-group'
  | 'group-id-not-found'
  | 'member-id-required'
  | 'group-max-size-reached'
  | 'fenced-instance-id'
  | 'group-subscribed-to-topic'
  | 'unstable-offset-commit'
  | 'unknown-server-error';

/** Every kind, for adapters' exhaustive mapping tests. */
export const GROUP_ERROR_KINDS: readonly GroupErrorKind[] = [
  'coordinator-not-available',
  'illegal-generation',
  'inconsistent-group-protocol',
  'invalid-group-id',
  'unknown-member-id',
  'invalid-session-timeout',
  'rebalance-in-progress',
  'invalid-commit-offset-size',
  'offset-metadata-too-large',
  'non-empty-group',
  'group-id-not-found',
  'member-id-required',
  'group-max-size-reached',
  'fenced-instance-id',
  'group-subscribed-to-topic',
  'unstable-offset-commit',
  'unknown-server-error',
];

// Subscription filter policies (the SNS filter language), shared by every protocol.

export { compileFilterPolicy, FilterPolicyError, MAX_POLICY_BYTES, type CompiledPolicy, type FilterScope } from './policy.js';
export { headersInput, jsonBodyInput, matchesPolicy, snsAttributesInput, type FilterInput, type FilterValue } from './match.js';
export { FilterIndex } from './filter-index.js';

// The access model: users, vhost records, permissions, topic permissions and
// limits (access.ts), password hashes (hashing.ts), and the per-connection checks
// every protocol adapter calls (grant.ts). See docs/security.md.

export { Access, CLUSTER_LINK_USER, GUEST, type BootUser } from './access.js';
export { AccessGrant, openGrant, isValidPattern, type Identity } from './grant.js';
export { hashPassword, verifyPassword, isHashingAlgorithm, SHA256, SHA512, MD5 } from './hashing.js';
export * from './model.js';

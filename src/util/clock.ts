// The clocks deadlines are measured on. A deadline (a lease's, a follower's lag) must use a
// monotonic clock: the wall clock steps when NTP corrects it or an operator sets it, and a step
// must neither extend a lease nor end one (docs/cluster.md, "Faults: clock jumps").

/** Milliseconds on a monotonic clock (an arbitrary origin; only differences mean anything). */
export const monotonicNow = (): number => performance.now();

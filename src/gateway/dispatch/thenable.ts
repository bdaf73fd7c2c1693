/**
 * Whether a handler's (or a guard's, a pipe's) result is to be awaited: the compiled handlers
 * and the dispatcher answer in the same call whenever nothing along the way returned one.
 */
export const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  value !== null &&
  (typeof value === 'object' || typeof value === 'function') &&
  typeof (value as { then?: unknown }).then === 'function';

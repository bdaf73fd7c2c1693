import { randomBytes } from 'node:crypto';

/**
 * Injection token of this instance's id: random per process start, so connection ids are unique
 * across instances and an instance can recognise its own messages on a shared bus.
 */
export const INSTANCE_ID = Symbol('INSTANCE_ID');

export function newInstanceId(): string {
  return randomBytes(4).toString('hex');
}

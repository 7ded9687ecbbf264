import { randomBytes } from 'node:crypto';

/**
 * A fresh id for a peer or client: 16 random bytes in base64url (22 characters), which fits the
 * wire's `[A-Za-z0-9_-]{8,64}` and makes collisions between machines practically impossible.
 */
export function newNodeId(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * Who may use the web UI: browsers holding a session cookie. A session starts either from a
 * one-time token in the address the daemon prints (so that address opens the UI signed in) or
 * from the daemon's secret typed on the sign-in page. Sessions live in memory: a restarted
 * daemon asks again, which is what its new printed address is for.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { UI_SESSION_IDLE_MS, UI_SESSION_MAX, UI_TOKEN_BYTES } from '../constants.js';

export interface UiSessions {
  /** A fresh one-time token for `/?login=TOKEN`; each one works once. */
  issueLoginToken(): string;
  /** Spends a one-time token: a new session id, or undefined when the token is unknown or spent. */
  redeemLoginToken(token: string): string | undefined;
  /** A new session for someone who gave the daemon's secret; undefined when it is wrong. */
  signIn(secret: string): string | undefined;
  signOut(req: IncomingMessage): void;
  /** Whether the request carries a live session cookie (the RPC's `authorizeRequest` hook). */
  authorizeRequest(req: IncomingMessage): boolean;
  /** The cookie's name: one per port, since browsers share cookies between ports of a host. */
  readonly cookieName: string;
}

export interface UiSessionsOptions {
  secret: string;
  /** The daemon's port, once it listens (it may be 0 until then). */
  port: () => number;
  now?: () => number;
}

export function createUiSessions(options: UiSessionsOptions): UiSessions {
  const now = options.now ?? Date.now;
  const loginTokens = new Set<string>();
  /** Session id → last use (ms); a Map keeps insertion order, refreshed on use, so the first is the oldest. */
  const sessions = new Map<string, number>();
  const cookieName = () => `ddm-session-${options.port()}`;

  const start = (): string => {
    const id = randomToken();
    sessions.set(id, now());
    while (sessions.size > UI_SESSION_MAX) sessions.delete(sessions.keys().next().value!);
    return id;
  };
  const live = (id: string | undefined): boolean => {
    if (id === undefined) return false;
    const lastUse = sessions.get(id);
    if (lastUse === undefined) return false;
    if (now() - lastUse > UI_SESSION_IDLE_MS) {
      sessions.delete(id);
      return false;
    }
    sessions.delete(id);
    sessions.set(id, now());
    return true;
  };

  return {
    get cookieName() {
      return cookieName();
    },
    issueLoginToken: () => {
      const token = randomToken();
      loginTokens.add(token);
      return token;
    },
    redeemLoginToken: (token) => {
      if (!loginTokens.delete(token)) return undefined;
      return start();
    },
    signIn: (secret) => (sameSecret(secret, options.secret) ? start() : undefined),
    signOut: (req) => {
      const id = readCookie(req, cookieName());
      if (id !== undefined) sessions.delete(id);
    },
    authorizeRequest: (req) => live(readCookie(req, cookieName())),
  };
}

function randomToken(): string {
  return randomBytes(UI_TOKEN_BYTES).toString('base64url');
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function readCookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index === -1) continue;
    if (part.slice(0, index).trim() === name) return part.slice(index + 1).trim();
  }
  return undefined;
}

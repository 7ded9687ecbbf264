/** The web UI's sessions: one-time tokens, the secret, the cookie, idle expiry, the bound on their number. */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import { UI_SESSION_IDLE_MS, UI_SESSION_MAX } from '../../src/constants.js';
import { createUiSessions } from '../../src/gui/ui-sessions.js';

const SECRET = 'the-daemon-secret-0123456789';

function requestWith(cookie: string | undefined): IncomingMessage {
  return { headers: cookie === undefined ? {} : { cookie } } as IncomingMessage;
}

describe('web UI sessions', () => {
  test('a one-time token starts one session and is spent', () => {
    const sessions = createUiSessions({ secret: SECRET, port: () => 6800 });
    const token = sessions.issueLoginToken();
    const id = sessions.redeemLoginToken(token);
    assert.ok(id);
    assert.equal(sessions.redeemLoginToken(token), undefined, 'the second use is refused');
    assert.equal(sessions.redeemLoginToken('made-up'), undefined);
    assert.equal(sessions.authorizeRequest(requestWith(`other=1; ddm-session-6800=${id}`)), true);
  });

  test('only the daemon secret signs in; no cookie, a wrong one or another port’s is refused', () => {
    const sessions = createUiSessions({ secret: SECRET, port: () => 6800 });
    assert.equal(sessions.signIn('wrong'), undefined);
    assert.equal(sessions.signIn(''), undefined);
    const id = sessions.signIn(SECRET)!;
    assert.equal(sessions.authorizeRequest(requestWith(undefined)), false);
    assert.equal(sessions.authorizeRequest(requestWith('ddm-session-6800=forged')), false);
    assert.equal(sessions.authorizeRequest(requestWith(`ddm-session-6801=${id}`)), false);
    assert.equal(sessions.authorizeRequest(requestWith(`ddm-session-6800=${id}`)), true);
  });

  test('signing out ends the session', () => {
    const sessions = createUiSessions({ secret: SECRET, port: () => 6800 });
    const id = sessions.signIn(SECRET)!;
    sessions.signOut(requestWith(`ddm-session-6800=${id}`));
    assert.equal(sessions.authorizeRequest(requestWith(`ddm-session-6800=${id}`)), false);
  });

  test('a session unused for the idle time expires; one in use stays', () => {
    let now = 1_000_000;
    const sessions = createUiSessions({ secret: SECRET, port: () => 6800, now: () => now });
    const idle = sessions.signIn(SECRET)!;
    const used = sessions.signIn(SECRET)!;
    now += UI_SESSION_IDLE_MS - 1;
    assert.equal(sessions.authorizeRequest(requestWith(`ddm-session-6800=${used}`)), true);
    now += 2;
    assert.equal(sessions.authorizeRequest(requestWith(`ddm-session-6800=${idle}`)), false);
    assert.equal(sessions.authorizeRequest(requestWith(`ddm-session-6800=${used}`)), true);
  });

  test('past the bound, the least recently used session is dropped', () => {
    const sessions = createUiSessions({ secret: SECRET, port: () => 6800 });
    const first = sessions.signIn(SECRET)!;
    const second = sessions.signIn(SECRET)!;
    assert.equal(
      sessions.authorizeRequest(requestWith(`ddm-session-6800=${first}`)),
      true,
      'first used again',
    );
    for (let i = 0; i < UI_SESSION_MAX - 1; i++) sessions.signIn(SECRET);
    assert.equal(sessions.authorizeRequest(requestWith(`ddm-session-6800=${second}`)), false);
    assert.equal(sessions.authorizeRequest(requestWith(`ddm-session-6800=${first}`)), true);
  });
});

/**
 * The two HTML documents the daemon writes itself: the app's shell (the import map that points
 * the browser at the vendored modules, then the app) and the sign-in page, which works without
 * any script so that a refused visitor runs none of the app.
 */
import { createHash } from 'node:crypto';
import { VENDOR_MODULES } from './ui-asset-source.js';

const IMPORT_MAP = JSON.stringify({
  imports: Object.fromEntries(
    Object.entries(VENDOR_MODULES).map(([served, name]) => [name, `/ui/${served}`]),
  ),
});

/** The inline import map is the only inline script; the policy allows it by its hash. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  `script-src 'self' 'sha256-${createHash('sha256').update(IMPORT_MAP).digest('base64')}'`,
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

function head(title: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${title}</title>
<link rel="icon" href="/ui/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/ui/style.css">`;
}

export function appShellHtml(): string {
  return `${head('ddm')}
<script type="importmap">${IMPORT_MAP}</script>
<script type="module" src="/ui/app.js"></script>
</head>
<body>
<div id="app"><p class="boot">Loading ddm…</p></div>
<noscript><p class="boot">The ddm web UI needs JavaScript.</p></noscript>
</body>
</html>
`;
}

export interface SignInPageOptions {
  /** Why the last attempt failed, in words; absent on a first visit. */
  problem?: string;
}

export function signInPageHtml(options: SignInPageOptions = {}): string {
  const problem = options.problem
    ? `<p class="field-error" id="secret-error" role="alert">${escapeHtml(options.problem)}</p>`
    : '';
  const describedBy = options.problem ? ' aria-describedby="secret-error" aria-invalid="true"' : '';
  return `${head('Sign in · ddm')}
</head>
<body class="sign-in-body">
<main class="sign-in">
  <div class="brand brand-large"><span class="brand-mark" aria-hidden="true"></span>ddm</div>
  <form class="card sign-in-card" method="post" action="/login">
    <h1>Sign in</h1>
    <p class="muted">This download manager is protected by its daemon's secret.</p>
    <label for="secret">Daemon secret</label>
    <input id="secret" name="secret" type="password" autocomplete="current-password" required autofocus${describedBy}>
    ${problem}
    <button class="button primary" type="submit">Sign in</button>
    <p class="hint">The secret is in <code>~/.local/state/ddm/daemon-secret</code> on the machine that runs
    <code>ddm daemon</code>. The address the daemon prints when it starts opens this page signed in.</p>
  </form>
</main>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

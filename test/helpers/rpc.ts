/** Raw JSON-RPC calls to a daemon (or aria2c) over HTTP, for what the aria2 client hides. */
export interface RawAnswer {
  status: number;
  body: unknown;
  text: string;
  ms: number;
}

export async function rawRpc(
  url: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): Promise<RawAnswer> {
  const started = Date.now();
  const response = await fetch(`${url}/jsonrpc`, {
    method: 'POST',
    headers,
    body,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, body: parsed, text, ms: Date.now() - started };
}

/** One call with `token:SECRET`; throws with the error's message when the answer is an error. */
export async function call(
  url: string,
  secret: string,
  method: string,
  ...params: unknown[]
): Promise<unknown> {
  const answer = await rawRpc(
    url,
    JSON.stringify({ jsonrpc: '2.0', id: 'x', method, params: [`token:${secret}`, ...params] }),
  );
  const body = answer.body as { result?: unknown; error?: { code: number; message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message} (${body.error.code})`);
  return body.result;
}

/**
 * An HTTP/1.1 request as ddm's own sockets write it (origin-sockets.ts for origins,
 * transport/client/signed-socket-stream.ts for peers): the request line, a Host (unless the
 * headers carry one, as a signed request's do), the headers as given, and a body with its length.
 */

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** ASCII only: a value undici would send in another encoding goes the undici way. */
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;

/** The request as it goes on the wire, or undefined when a header could not be sent as it is. */
export function requestText(
  method: 'GET' | 'POST',
  url: URL,
  headers: Record<string, string>,
  body?: string,
): string | undefined {
  let head = `${method} ${url.pathname}${url.search} HTTP/1.1\r\n`;
  if (headers.host === undefined) head += `host: ${url.host}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME.test(name) || !HEADER_VALUE.test(value)) return undefined;
    head += `${name}: ${value}\r\n`;
  }
  if (body === undefined) return `${head}\r\n`;
  return `${head}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

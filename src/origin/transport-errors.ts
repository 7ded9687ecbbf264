/** Turns what undici and the socket layer throw into typed errors that say whether to retry. */
import { abortError, DdmError, isDdmError } from '../errors.js';
import { describeUrl } from './origin-url.js';

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);

/** Failures of the path to the origin that a new connection may well not see. */
const TRANSIENT_NETWORK_CODES = new Set([
  'UND_ERR_SOCKET',
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
  'EAI_AGAIN',
]);

/** OpenSSL's and Node's names for a certificate that is not believed (self-signed, expired, wrong name...). */
const TLS_TRUST_CODE = /CERT|CRL|SIGNATURE|^INVALID_(CA|PURPOSE)$|^PATH_LENGTH_EXCEEDED$|^HOSTNAME_MISMATCH$/;

/** The origin broke HTTP itself; another try may reach a healthier server. */
const BROKEN_RESPONSE_CODES = new Set(['UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'UND_ERR_INFO']);

export function fromTransportError(error: unknown, url: URL, signal: AbortSignal): DdmError {
  if (signal.aborted) return abortError(signal);
  if (isDdmError(error)) return error;
  const code = errorCode(error);
  const where = describeUrl(url);
  const reason = error instanceof Error ? error.message : String(error);
  const details = { url: where, ...(code === undefined ? {} : { cause: code }) };
  if (code !== undefined && TIMEOUT_CODES.has(code)) {
    return new DdmError('TIMEOUT', `timed out talking to ${where} (${code})`, {
      cause: error,
      details,
      retryable: true,
    });
  }
  if (code === 'ENOTFOUND') {
    // The resolver answered that the name does not exist: asking again gives the same answer
    // (a resolver that could not answer says EAI_AGAIN, which is retried).
    return new DdmError('NETWORK', `cannot resolve host name ${url.hostname}: no such host (ENOTFOUND)`, {
      cause: error,
      details,
    });
  }
  if (code !== undefined && (TRANSIENT_NETWORK_CODES.has(code) || code.startsWith('HPE_'))) {
    return new DdmError('NETWORK', `network error with ${where}: ${reason} (${code})`, {
      cause: error,
      details,
      retryable: true,
    });
  }
  if (code !== undefined && BROKEN_RESPONSE_CODES.has(code)) {
    return new DdmError('BAD_RESPONSE', `broken response from ${where}: ${reason}`, {
      cause: error,
      details,
      retryable: true,
    });
  }
  if (code !== undefined && TLS_TRUST_CODE.test(code)) {
    return new DdmError(
      'ORIGIN_TLS',
      `the TLS certificate of ${where} is not trusted: ${reason} (${code}); give its CA with --ca-certificate FILE, or --insecure to skip the check`,
      { cause: error, details },
    );
  }
  if (code === 'UND_ERR_INVALID_ARG') {
    return new DdmError('USAGE', `cannot send the request to ${where}: ${reason}`, { cause: error, details });
  }
  // TLS failures (bad certificate, wrong host name) and anything unknown will not heal by retrying.
  return new DdmError(
    'NETWORK',
    `cannot reach ${where}: ${reason}${code === undefined ? '' : ` (${code})`}`,
    {
      cause: error,
      details,
    },
  );
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return code;
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  const causeCode = (cause as { code?: unknown } | undefined)?.code;
  return typeof causeCode === 'string' ? causeCode : undefined;
}

/**
 * Mirrors: more URLs of the same file beside the primary one. Each is probed after the primary
 * and kept only when it serves ranges of a file of the primary's size (its ETag and date are
 * its own server's, so size is the rule); each live mirror becomes an origin source of its own,
 * and the download's connections are spread over the primary and the live mirrors. The
 * scheduler's pulled work does the rest: a faster mirror pulls more ranges, a slow one's tail
 * is split off, one that keeps failing is dropped (MIRROR_MAX_FAILURES).
 */
import { MIRROR_MAX_FAILURES, MIRROR_PROBE_TRIES } from '../constants.js';
import { discardBody } from '../origin/follow-redirects.js';
import type { OriginRequestOptions } from '../origin/http-client.js';
import { redactUrl } from '../origin/origin-url.js';
import { type ProbeResult, probe } from '../origin/probe.js';
import { headersFor } from '../origin/request-headers.js';
import { withRetries } from '../origin/retry.js';
import type { Validators } from '../types/validators.js';
import type { DownloadEventListener } from './events.js';
import { OriginRangeSource, OWN_CONNECTION_FAILURES } from './origin-source.js';
import type { SourceFailurePolicy, SourcePlan } from './range-source.js';

/**
 * With mirrors, no origin is indispensable: each one (the primary too) is retried, then
 * counted, then dropped; the download fails only when no origin is left.
 */
export const MIRROR_FAILURES: SourceFailurePolicy = {
  retried: true,
  endsDownload: false,
  maxFailures: MIRROR_MAX_FAILURES,
  stallIsFailure: false,
};

/** Whether a source id names a mirror's connections (not the primary's, not a peer). */
export function isMirrorSource(sourceId: string): boolean {
  return sourceId.startsWith('mirror:');
}

/** A mirror that passed its probe: where its ranges go and what they must match. */
export interface LiveMirror {
  /** `mirror:<n>`, n its place in the request's mirror list (from 1). */
  id: string;
  /** Redacted URL, for messages. */
  label: string;
  /** The URL as given (what a control file records). */
  requested: string;
  /** Final URL after its redirects. */
  url: string;
  validators: Validators;
  requestOptions: OriginRequestOptions;
}

export interface MirrorProbeContext {
  primary: ProbeResult;
  requestOptions: OriginRequestOptions;
  emit: DownloadEventListener;
  signal: AbortSignal;
}

/** Probes every mirror at once; those that fail or serve another file are dropped with a notice. */
export async function probeMirrors(
  mirrors: readonly string[],
  context: MirrorProbeContext,
): Promise<LiveMirror[]> {
  const checked = await Promise.all(mirrors.map((url, index) => probeMirror(url, index + 1, context)));
  return checked.filter((mirror): mirror is LiveMirror => mirror !== undefined);
}

async function probeMirror(
  url: string,
  n: number,
  context: MirrorProbeContext,
): Promise<LiveMirror | undefined> {
  const label = redactUrl(url);
  let probed: ProbeResult;
  try {
    probed = await withRetries(() => probe(url, context.requestOptions, context.signal), {
      maxTries: MIRROR_PROBE_TRIES,
      signal: context.signal,
    });
  } catch (error) {
    if (context.signal.aborted) throw error;
    dropped(context, label, `its probe failed: ${(error as Error).message}`);
    return undefined;
  }
  if (probed.response !== undefined) await discardBody(probed.response.body, context.signal);
  const unfit = unfitness(probed, context.primary);
  if (unfit !== undefined) {
    dropped(context, label, unfit);
    return undefined;
  }
  return {
    id: `mirror:${n}`,
    label,
    requested: url,
    url: probed.url,
    validators: probed.validators,
    // As for the primary: credentials given for another origin stay behind.
    requestOptions: {
      ...context.requestOptions,
      headers: headersFor(new URL(probed.url), new URL(url), context.requestOptions.headers),
    },
  };
}

/** Why a probed mirror cannot serve ranges of the primary's file, or undefined when it can. */
function unfitness(mirror: ProbeResult, primary: ProbeResult): string | undefined {
  if (mirror.size !== primary.size) {
    return `it serves ${mirror.size === null ? 'a file of unknown size' : `${mirror.size} bytes`}, the primary URL ${primary.size} bytes`;
  }
  if (!mirror.rangeSupported) return 'it does not answer ranges';
  if (mirror.encodings !== undefined) return `it sends the file ${mirror.encodings.join(', ')}-encoded`;
  // Its own validators tie its ranges to one version of its file (If-Range), as the primary's do.
  if (mirror.validators.etag === undefined && mirror.validators.lastModified === undefined) {
    return 'it gives no ETag or Last-Modified, so its ranges could mix two versions of the file';
  }
  return undefined;
}

function dropped(context: MirrorProbeContext, label: string, why: string): void {
  context.emit({ type: 'notice', message: `mirror ${label} dropped: ${why}` });
}

/** The primary's source and one per live mirror, `connections` spread over them (at least one each). */
export function originPlans(
  primary: { url: string; validators: Validators; requestOptions: OriginRequestOptions },
  mirrors: readonly LiveMirror[],
  size: number,
  connections: number,
): SourcePlan[] {
  const policy = mirrors.length > 0 ? MIRROR_FAILURES : OWN_CONNECTION_FAILURES;
  const sources = [
    new OriginRangeSource(primary.url, primary.validators, size, primary.requestOptions, { policy }),
    ...mirrors.map(
      (mirror) =>
        new OriginRangeSource(mirror.url, mirror.validators, size, mirror.requestOptions, {
          id: mirror.id,
          label: `mirror ${mirror.label}`,
          policy,
          crossChecked: true,
        }),
    ),
  ];
  const slots = spreadSlots(connections, sources.length);
  return sources.map((source, index) => ({ source, slots: slots[index]! }));
}

/** `total` connections round-robin over `count` origins, the primary first; each gets one at least. */
export function spreadSlots(total: number, count: number): number[] {
  return Array.from({ length: count }, (_, index) =>
    Math.max(1, Math.floor(total / count) + (index < total % count ? 1 : 0)),
  );
}

/**
 * A peer's presence on the LAN (mDNS): announced where it can be, with a line saying where, for
 * `ddm peer` and for `ddm daemon --helper` alike. A problem here never stops the peer.
 */
import { type Announcer, startAnnouncer } from '../discovery/announcer.js';
import { whyNotAnnounceable } from '../discovery/lan-interfaces.js';

export interface PresenceOptions {
  id: string;
  name: string;
  slots: number;
  host: string;
  port: number;
  /** The peer serves https: clients that find it on the LAN must dial https. */
  tls: boolean;
  /** Each problem while announcing. */
  onProblem: (message: string) => void;
}

/** Announces the peer and tells `report` where (or why not); undefined when it cannot be announced. */
export function announcePeer(
  options: PresenceOptions,
  report: (line: string) => void,
  signal: AbortSignal,
): Announcer | undefined {
  const impossible = whyNotAnnounceable(options.host);
  if (impossible) {
    report(`not announced on the LAN: ${impossible}`);
    return undefined;
  }
  const announcer = startAnnouncer(
    {
      id: options.id,
      name: options.name,
      slots: options.slots,
      port: options.port,
      tls: options.tls,
      listenHost: options.host,
      onProblem: options.onProblem,
    },
    signal,
  );
  const where = announcer.interfaceNames();
  report(
    where.length > 0
      ? `announced on the LAN (mDNS) on ${where.join(', ')}`
      : `not announced on the LAN yet: no network interface carries ${options.host}`,
  );
  return announcer;
}

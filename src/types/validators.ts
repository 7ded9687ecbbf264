/**
 * What every range request (local or through a peer) must carry so all bytes come from one
 * version. Shared by origin/, storage/, client/ and the wire, so it depends on none of them.
 */
export interface Validators {
  /** Strong ETag, quotes included (weak ETags are never used for ranges). */
  etag?: string | undefined;
  /** Last-Modified exactly as the origin sent it. */
  lastModified?: string | undefined;
}

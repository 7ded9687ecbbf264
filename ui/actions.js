// What the buttons of a download do, through aria2's methods (and ddm.add for a retry).

export function canPause(download) {
  return download.state === 'active' || download.state === 'waiting';
}

export function canResume(download) {
  return download.state === 'paused';
}

/** Its link expired: it waits, every byte kept, for a new link to the same file. */
export function canChangeLink(download) {
  return download.state === 'expired';
}

/** The daemon probes the new link and refuses it (LINK_MISMATCH) unless it is the same file. */
export async function changeLink(rpc, download, url) {
  await rpc.call('ddm.changeLink', [download.id, url]);
}

export function canRetry(download) {
  return download.state === 'error';
}

export async function pause(rpc, download) {
  await rpc.call('aria2.pause', [download.id]);
}

export async function resume(rpc, download) {
  await rpc.call('aria2.unpause', [download.id]);
}

/** A running download is stopped (its file stays); a finished one leaves the list. */
export async function remove(rpc, download) {
  const finished =
    download.state === 'complete' || download.state === 'error' || download.state === 'removed';
  await rpc.call(finished ? 'aria2.removeDownloadResult' : 'aria2.remove', [download.id]);
}

/** A failed download starts again as a new one with the same address and file (it resumes). */
export async function retry(rpc, download) {
  await rpc.call('ddm.add', [
    { urls: [download.url], ...(download.output ? { output: download.output } : {}) },
  ]);
  await rpc.call('aria2.removeDownloadResult', [download.id]);
}

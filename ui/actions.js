// What the buttons of a download do, through aria2's methods (and ddm.add for a retry).

export function canPause(download) {
  return download.state === 'active' || download.state === 'waiting';
}

export function canResume(download) {
  return download.state === 'paused';
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

/**
 * The Host header values the daemon answers to (its RPC and web UI): its own address or
 * localhost, with its port, so a web page cannot reach it through DNS rebinding (a rebound name
 * arrives as that name, never as one of these). A daemon listening on every address answers to
 * each address of this machine and to its host name, so a phone on the LAN can open the UI.
 */
import { hostname, networkInterfaces } from 'node:os';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

export function daemonHostNames(host: string, port: number): ReadonlySet<string> {
  const names = new Set(LOOPBACK_NAMES);
  if (host === '0.0.0.0' || host === '::') {
    for (const name of machineNames(host === '::')) names.add(name);
  } else {
    names.add(bracketed(host));
  }
  return new Set([...names].map((name) => `${name.toLowerCase()}:${port}`));
}

/** This machine's interface addresses (IPv6 too when listening on `::`) and its host name. */
function machineNames(withIpv6: boolean): string[] {
  const own = hostname();
  const names = own === '' ? [] : [own, `${own}.local`];
  for (const entries of Object.values(networkInterfaces())) {
    for (const entry of entries ?? []) {
      if (entry.family === 'IPv4') names.push(entry.address);
      // A scoped (link-local) address cannot be named in a Host header without its zone.
      else if (withIpv6 && entry.scopeid === 0) names.push(bracketed(entry.address));
    }
  }
  return names;
}

function bracketed(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/**
 * One peer found several ways (trackers, --peer, the LAN) is one peer: sightings are merged by
 * id, and the merged peer remembers every way it was found. Pure.
 */

export interface Sighting<T> {
  id: string;
  /** Where it was found: a tracker URL, "peer" for --peer, "mdns" for the LAN. */
  via: string;
  value: T;
}

export interface MergedPeer<T> {
  id: string;
  /** The value of the first sighting of this id: callers pass sightings in order of preference. */
  value: T;
  foundBy: string[];
}

export const FOUND_ON_LAN = 'mdns';

export function mergeSightings<T>(sightings: readonly Sighting<T>[]): MergedPeer<T>[] {
  const merged = new Map<string, MergedPeer<T>>();
  for (const sighting of sightings) {
    const known = merged.get(sighting.id);
    if (!known) merged.set(sighting.id, { id: sighting.id, value: sighting.value, foundBy: [sighting.via] });
    else if (!known.foundBy.includes(sighting.via)) known.foundBy.push(sighting.via);
  }
  return [...merged.values()];
}

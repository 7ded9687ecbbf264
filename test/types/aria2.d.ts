/** The npm package `aria2` (4.1.2) as the RPC tests use it; it ships no types of its own. */
declare module 'aria2' {
  import { EventEmitter } from 'node:events';

  interface Aria2Options {
    host?: string;
    port?: number;
    secure?: boolean;
    secret?: string;
    path?: string;
  }

  export default class Aria2 extends EventEmitter {
    constructor(options?: Aria2Options);
    call(method: string, ...params: unknown[]): Promise<unknown>;
    multicall(calls: unknown[][]): Promise<unknown[]>;
    batch(calls: unknown[][]): Promise<Promise<unknown>[]>;
    listMethods(): Promise<string[]>;
    listNotifications(): Promise<string[]>;
    open(): Promise<void>;
    close(): Promise<void>;
  }
}

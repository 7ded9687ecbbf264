/** hash-wasm's XXH64 alone (9 KiB), instead of its index of every algorithm (280 KiB to parse). */
declare module 'hash-wasm/dist/xxhash64.umd.min.js' {
  const xxhash64: Pick<typeof import('hash-wasm'), 'createXXHash64'>;
  export default xxhash64;
}

/**
 * The library API of the `ddm` package (`import { download } from 'ddm'`): what a program that
 * drives ddm needs, and nothing of the CLI. New entry points (the engine) are re-exported here,
 * so package.json's `exports` stays one line.
 */
export type { DownloadOptions, DownloadResult } from './client/download.js';
export type { DownloadEvent, DownloadEventListener, WorkerStats } from './client/events.js';
export { DDM_VERSION } from './constants.js';
export type { DownloadHandle } from './engine/download-handle.js';
export { type AddOptions, createEngine, type Engine, type EngineConfig } from './engine/engine.js';
export { download } from './engine/one-shot-download.js';
export { type DownloadRequestInput, parseDownloadRequest } from './engine/request.js';
export type { DownloadState, DownloadStatus, LiveOptions, SourceStatus } from './engine/types.js';
export { DdmError, type ErrorCode, EXIT, type ExitCode, isDdmError } from './errors.js';
export type { FileFacts } from './types/file-facts.js';

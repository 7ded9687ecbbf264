import { CONTROL_SUFFIX, PART_SUFFIX } from '../constants.js';

/** Where the bytes live until the download is complete. */
export function partPath(outputPath: string): string {
  return outputPath + PART_SUFFIX;
}

/** Where progress is recorded, beside the `.part` file. */
export function controlPath(outputPath: string): string {
  return outputPath + CONTROL_SUFFIX;
}

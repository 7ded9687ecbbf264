/** A Metalink 4 document of one file, for tests. */
export function metalinkXml(file: {
  name: string;
  size?: number;
  hash?: string;
  urls: readonly string[];
}): string {
  const urls = file.urls.map((url, index) => `    <url priority="${index + 1}">${url}</url>`).join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <file name="${file.name}">
${file.size === undefined ? '' : `    <size>${file.size}</size>\n`}${file.hash === undefined ? '' : `    <hash type="sha-256">${file.hash}</hash>\n`}${urls}
  </file>
</metalink>
`;
}

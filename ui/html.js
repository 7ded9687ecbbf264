// htm turns tagged templates into preact's h() calls: components without a compile step.
import htm from 'htm';
import { h } from 'preact';

export const html = htm.bind(h);

/**
 * Writes the bash completion of ddm from the program's own `--help`, so the completion knows
 * every command and option the binary has, including ones added after this script was written.
 */
import { execFileSync } from 'node:child_process';

interface CommandOptions {
  name: string;
  flags: string[];
  /** Options followed by a file name, a directory, one of fixed words, or a free value. */
  files: string[];
  dirs: string[];
  choices: Map<string, string[]>;
  values: string[];
}

const OPTION_LINE = /^ {2}(?:(-\w), )?(--[\w-]+)(?: <([\w:=.-]+)>)?(.*)$/;
const COMMAND_LINE = /^\s{2}([a-z][\w-]*) (?:\[options\]|<|\[command\]|\s)/;

function help(binary: string, args: string[]): string[] {
  return execFileSync(binary, [...args, '--help'], {
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin', XDG_CONFIG_HOME: '/nonexistent' },
  }).split('\n');
}

/** The entries under `Title:`, each with its wrapped continuation lines joined on. */
function section(lines: string[], title: string): string[] {
  const start = lines.indexOf(`${title}:`);
  if (start < 0) return [];
  const entries: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '') break;
    if (/^ {3}/.test(line) && entries.length > 0) entries[entries.length - 1] += ` ${line.trim()}`;
    else entries.push(line);
  }
  return entries;
}

function commandOptions(binary: string, name: string): CommandOptions {
  const lines = help(binary, [name]);
  const options: CommandOptions = { name, flags: [], files: [], dirs: [], choices: new Map(), values: [] };
  for (const line of section(lines, 'Options')) {
    const match = OPTION_LINE.exec(line);
    if (!match) continue;
    const [, short, long = '', value, rest = ''] = match;
    const names = short ? [short, long] : [long];
    options.flags.push(...names);
    if (!value) continue;
    const choices = /\(choices: ([^)]*)\)/.exec(rest)?.[1];
    if (choices)
      for (const each of names) options.choices.set(each, choices.replace(/[",]/g, '').split(/\s+/));
    else if (value === 'file') options.files.push(...names);
    else if (value === 'dir') options.dirs.push(...names);
    else options.values.push(...names);
  }
  return options;
}

function commandNames(binary: string): string[] {
  return section(help(binary, []), 'Commands')
    .map((line) => COMMAND_LINE.exec(`${line} `)?.[1])
    .filter((name): name is string => name !== undefined && name !== 'help');
}

function caseArm(patterns: string[], body: string): string {
  return patterns.length > 0 ? `        ${patterns.join('|')}) ${body} ;;\n` : '';
}

function commandArm(options: CommandOptions): string {
  let arms = caseArm(options.files, '_filedir; return');
  arms += caseArm(options.dirs, '_filedir -d; return');
  for (const [flag, words] of options.choices)
    arms += caseArm([flag], `COMPREPLY=($(compgen -W "${words.join(' ')}" -- "$cur")); return`);
  arms += caseArm(options.values, 'return');
  return `    ${options.name})
      case $prev in
${arms}      esac
      COMPREPLY=($(compgen -W "${options.flags.join(' ')}" -- "$cur")) ;;
`;
}

export function bashCompletion(binary: string): string {
  const names = commandNames(binary);
  const arms = names.map((name) => commandArm(commandOptions(binary, name))).join('');
  return `# bash completion for ddm(1), generated from \`ddm COMMAND --help\` by packaging/completion/bash-completion.ts
_ddm() {
  local cur prev words cword
  _init_completion || return
  local command="" i
  for ((i = 1; i < cword; i++)); do
    case \${words[i]} in
      --config) ((i++)) ;;
      -*) ;;
      *) command=\${words[i]}; break ;;
    esac
  done
  if [[ -z $command ]]; then
    if [[ $prev == --config ]]; then _filedir; return; fi
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W "--config --version --help" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "${names.join(' ')} help" -- "$cur"))
    fi
    return
  fi
  case $command in
${arms}    help)
      COMPREPLY=($(compgen -W "${names.join(' ')}" -- "$cur")) ;;
  esac
} &&
  complete -F _ddm ddm
`;
}

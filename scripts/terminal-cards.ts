/**
 * CDS cards rendered for a terminal, as the demo EHR prints them: the indicator in colour when the
 * terminal supports it (never when NO_COLOR is set or output is not a terminal), the card's Markdown
 * (bold, italics, paragraphs) rendered, every line wrapped to the terminal width.
 */
import { styleText } from 'node:util';
import wrapAnsi from 'wrap-ansi';
import type { CdsCard } from '../src/cds/types.js';

export interface TerminalOptions {
  width: number;
  colour: boolean;
}

/** What the current process's stdout supports. */
export function terminalOptions(stream: NodeJS.WriteStream = process.stdout): TerminalOptions {
  const colour =
    stream.isTTY === true && process.env.NO_COLOR === undefined && stream.hasColors?.() !== false;
  return { width: Math.max(40, Math.min(stream.columns ?? 100, 110)), colour };
}

type Style = Parameters<typeof styleText>[0];

function paint(options: TerminalOptions, style: Style, text: string): string {
  return options.colour ? styleText(style, text) : text;
}

/** Inline Markdown (**bold**, _italic_) rendered: styled when colour is on, plain text otherwise. */
export function renderInline(markdown: string, options: TerminalOptions): string {
  return markdown
    .replace(/\*\*(.+?)\*\*/g, (_m, t: string) => paint(options, 'bold', t))
    .replace(
      /(^|[\s(])_(.+?)_(?=[\s.,;:)]|$)/g,
      (_m, pre: string, t: string) => pre + paint(options, 'italic', t),
    );
}

const INDICATOR: Record<CdsCard['indicator'], { label: string; style: Style }> = {
  critical: { label: 'CRITICAL', style: ['bold', 'white', 'bgRed'] as unknown as Style },
  warning: { label: 'WARNING', style: ['bold', 'black', 'bgYellow'] as unknown as Style },
  info: { label: 'INFO', style: ['bold', 'white', 'bgBlue'] as unknown as Style },
};

function block(text: string, options: TerminalOptions, indent = '    '): string {
  return wrapAnsi(text, options.width - indent.length, { hard: true })
    .split('\n')
    .map((l) => indent + l)
    .join('\n');
}

/** One card as the demo EHR shows it. */
export function renderCard(card: CdsCard, index: number, options: TerminalOptions): string {
  const ind = INDICATOR[card.indicator];
  const out: string[] = [];
  out.push(`\n${paint(options, ind.style, ` ${ind.label} `)} Card ${index + 1}`);
  out.push(block(paint(options, 'bold', card.summary), options));
  for (const paragraph of (card.detail ?? '').split(/\n\s*\n/).filter((p) => p.trim() !== '')) {
    out.push('');
    out.push(block(renderInline(paragraph.replace(/\n/g, ' '), options), options));
  }
  if (card.suggestions?.length) {
    out.push('');
    for (const s of card.suggestions)
      out.push(block(`[ ] ${s.label}${s.isRecommended ? ' (recommended)' : ''}`, options, '    '));
  }
  const links = card.links ?? [];
  const views = links.filter((l) => l.url.includes('/care-team/'));
  const cited = links.filter((l) => !l.url.includes('/care-team/'));
  if (cited.length > 0) {
    out.push('');
    out.push(
      block(`Sources: ${cited.map((l) => `${l.label.split(':')[0]} <${l.url}>`).join('; ')}`, options),
    );
  }
  if (views.length > 0) out.push(block(paint(options, 'dim', `Care-team view: ${views[0]!.url}`), options));
  out.push(
    block(
      paint(
        options,
        'dim',
        `Override reasons: ${(card.overrideReasons ?? []).map((r) => r.display ?? r.code).join('; ')}`,
      ),
      options,
    ),
  );
  return out.join('\n');
}

// An SVG chart of best (and median) training error per generation, for people
// who would rather look than read. Errors span orders of magnitude, so the
// y axis is log10(1 + error). The output depends only on the statistics: the
// same run always draws the same bytes.

import type { GenerationStats } from "./run.js";

const W = 720;
const H = 400;
const M = { left: 70, right: 20, top: 40, bottom: 50 };

function fmt(x: number): string {
  return (Math.round(x * 100) / 100).toString();
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function plotSvg(history: readonly GenerationStats[], title: string): string {
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const ly = (e: number): number => Math.log10(1 + Math.max(0, e));
  // A loop, not Math.max(...): a long run has more generations than a call can take arguments.
  let highest = 0;
  for (const s of history) highest = Math.max(highest, ly(s.median_error), ly(s.best_error));
  const top = Math.max(1, Math.ceil(highest));
  const last = Math.max(1, history.length - 1);
  const x = (g: number): number => M.left + (g / last) * pw;
  const y = (e: number): number => M.top + ph - (ly(e) / top) * ph;
  const line = (pick: (s: GenerationStats) => number): string =>
    history.map((s, i) => `${i === 0 ? "M" : "L"}${fmt(x(i))},${fmt(y(pick(s)))}`).join(" ");
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`);
  // Axes and ticks: 10^k - 1 on the y axis.
  out.push(`<path d="M${M.left},${M.top} V${M.top + ph} H${M.left + pw}" stroke="black" fill="none"/>`);
  for (let k = 0; k <= top; k++) {
    const v = 10 ** k - 1;
    const yy = fmt(y(v));
    out.push(`<line x1="${M.left - 4}" y1="${yy}" x2="${M.left + pw}" y2="${yy}" stroke="#ddd"/>`);
    out.push(`<text x="${M.left - 8}" y="${yy}" text-anchor="end" dominant-baseline="middle">${v.toLocaleString("en-US")}</text>`);
  }
  const step = Math.max(1, Math.ceil(last / 10));
  for (let g = 0; g <= last; g += step) {
    const xx = fmt(x(g));
    out.push(`<line x1="${xx}" y1="${M.top + ph}" x2="${xx}" y2="${M.top + ph + 4}" stroke="black"/>`);
    out.push(`<text x="${xx}" y="${M.top + ph + 18}" text-anchor="middle">${g}</text>`);
  }
  out.push(`<text x="${M.left + pw / 2}" y="${H - 10}" text-anchor="middle">generation</text>`);
  out.push(`<text transform="translate(16,${M.top + ph / 2}) rotate(-90)" text-anchor="middle">training error (log scale)</text>`);
  if (history.length > 0) {
    out.push(`<path d="${line((s) => s.median_error)}" stroke="#999" stroke-dasharray="5,4" fill="none" stroke-width="1.5"/>`);
    out.push(`<path d="${line((s) => s.best_error)}" stroke="#c0392b" fill="none" stroke-width="2"/>`);
  }
  out.push(`<line x1="${W - 190}" y1="${M.top + 10}" x2="${W - 165}" y2="${M.top + 10}" stroke="#c0392b" stroke-width="2"/>`);
  out.push(`<text x="${W - 160}" y="${M.top + 14}">best error</text>`);
  out.push(`<line x1="${W - 190}" y1="${M.top + 28}" x2="${W - 165}" y2="${M.top + 28}" stroke="#999" stroke-dasharray="5,4" stroke-width="1.5"/>`);
  out.push(`<text x="${W - 160}" y="${M.top + 32}">median error</text>`);
  out.push("</svg>");
  return out.join("\n") + "\n";
}

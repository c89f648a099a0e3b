// `rar view`: one self-contained HTML file showing a recorded run (no
// network, no server, no VM in the browser). It embeds a compact step record
// of a window of steps (per step: the focus process, pc, line, function,
// locals, operands, changed memory, every process's status, gas and memory;
// capability events by step) and an overview sampled over the whole run, and a
// small script draws the process tree, the source with the current line, the
// stack, locals, memory, capability events and the gas and memory plots, with
// a slider and step buttons.

import type { DecodedImage } from "../image/decode.js";
import type { Process } from "../process/process.js";
import { callChain } from "../process/report.js";
import { deepest } from "../process/control.js";
import { describeEvent } from "../trace/events.js";
import { functionAt, sourceAt } from "../vm/module.js";
import { Frame, OPS } from "../vm/opcodes.js";
import { Timeline } from "./timeline.js";
import { RarError } from "../vm/errors.js";

/** Steps a view shows one by one unless told otherwise. */
export const VIEW_STEPS = 2000;
/** Samples of the overview over the whole run. */
const OVERVIEW = 100;
const MEM_WORDS = 64;
const WORDS = 16;
const PROCS = 32;

export interface ViewOptions {
  from?: number;
  to?: number;
}

interface Tables {
  procs: string[];
  files: string[];
  fns: string[];
}

function index(list: string[], s: string): number {
  let i = list.indexOf(s);
  if (i < 0) i = list.push(s) - 1;
  return i;
}

function treeOf(root: Process, t: Tables): number[][] {
  const out: number[][] = [];
  const todo = [root];
  while (todo.length > 0 && out.length < PROCS) {
    const p = todo.pop() as Process;
    out.push([index(t.procs, p.path), p.status, p.gasUsed, p.memUsed, p.gasLimit, p.memLimit]);
    for (const c of [...p.children.values()].reverse()) todo.push(c);
  }
  return out;
}

/** The view's data: a window of steps and an overview of the whole run. */
export function viewData(img: DecodedImage, file: string, opts: ViewOptions = {}): object {
  if (opts.from !== undefined && opts.to !== undefined && opts.to < opts.from)
    throw new RarError("usage.slice_range", `--to ${opts.to} is before --from ${opts.from}`);
  const tl = new Timeline(img);
  const end = tl.end();
  const to = Math.min(end, Math.max(tl.first, opts.to ?? end));
  const from = Math.max(tl.first, Math.min(to, opts.from ?? to - (VIEW_STEPS - 1)));
  const t: Tables = { procs: [], files: [], fns: [] };
  const steps: unknown[] = [];
  const caps: [number, string][] = [];
  const lastMem = new Map<number, string>();
  let { replayer: rp, step } = tl.at(from);
  let cursor = rp.cursor;
  const eventsBefore = (upTo: number, at: number): void => {
    for (let i = cursor; i < upTo; i++) {
      const e = rp.rec.events[i];
      if (e.kind === "cap" || e.kind === "cap_error") caps.push([at, describeEvent(e)]);
    }
    cursor = upTo;
  };
  cursor = 0;
  eventsBefore(rp.cursor, from);
  for (;;) {
    const p = deepest(rp.root);
    const started = p.fp > 0;
    const pc = started ? p.pc : p.module.entries[p.entryFn];
    const src = sourceAt(p.module, pc);
    const fn = functionAt(p.module, pc);
    const top = started ? p.frames[p.fp - Frame.Words + Frame.Fn] : p.entryFn;
    const nl = started ? p.module.nlocals[top] : 0;
    const locals = started ? Array.from(p.stack.subarray(p.bp, p.bp + Math.min(nl, WORDS))) : [];
    const operands = started ? Array.from(p.stack.subarray(p.bp + nl, p.sp)).slice(-WORDS) : [];
    const pi = index(t.procs, p.path);
    const mem = Array.from(p.mem.subarray(0, Math.min(p.memSize, MEM_WORDS)));
    const key = mem.join(",");
    const memChanged = lastMem.get(pi) !== key;
    lastMem.set(pi, key);
    const chain = callChain(p).map((l) => `${l.function}${l.source ? ` ${l.source}` : ""}`);
    steps.push([
      pi,
      pc,
      src ? index(t.files, src.file) : -1,
      src ? src.line : 0,
      index(t.fns, fn >= 0 ? p.module.functions[fn].name : "?"),
      rp.root.gasUsed,
      locals,
      operands,
      memChanged ? mem : null,
      treeOf(rp.root, t),
      chain.slice(0, 8),
      OPS[p.module.code[pc]]?.name ?? "?",
      p.memSize,
    ]);
    if (step >= to) break;
    const next = tl.forward(rp, step, step + 1);
    if (next === null || next === step) break;
    step = next;
    eventsBefore(rp.cursor, step);
  }
  const overview: unknown[] = [];
  const n = Math.min(OVERVIEW, end - tl.first + 1);
  for (let i = 0; i < n; i++) {
    const k = tl.first + Math.round(((end - tl.first) * i) / Math.max(1, n - 1));
    const { replayer } = tl.at(k);
    overview.push([k, treeOf(replayer.root, t)]);
  }
  // No prototype: a file the image names `__proto__` is a key like any other.
  const sources: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  for (const f of t.files) {
    const text = tl.sources.get(f);
    if (text !== undefined) sources[f] = text.split("\n");
  }
  return { file, first: tl.first, end, from, to, procs: t.procs, files: t.files, fns: t.fns, steps, caps, overview, sources };
}

/** The HTML page: data inlined as JSON (with `<` escaped so it cannot end the script), styles and script inline. */
export function viewHtml(data: object): string {
  const json = JSON.stringify(data).replace(/</g, "\\u003c");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rar view</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<style>
body{font:13px/1.35 ui-monospace,Menlo,Consolas,monospace;margin:0;background:#fafafa;color:#222}
header{padding:6px 10px;background:#234;color:#fff;display:flex;gap:10px;align-items:center;flex-wrap:wrap}
header button{font:inherit;padding:2px 8px}#slider{flex:1;min-width:200px}
main{display:grid;grid-template-columns:1.3fr 1fr;gap:8px;padding:8px}
section{background:#fff;border:1px solid #ddd;border-radius:4px;padding:6px;overflow:auto;max-height:320px}
h2{font-size:12px;margin:0 0 4px;color:#456;text-transform:uppercase}
pre{margin:0}.cur{background:#ffe08a}.ln{color:#999;display:inline-block;width:4em;text-align:right;margin-right:8px}
.st2{color:#b00}.st3,.st4{color:#a60}.st1{color:#070}#where{font-weight:bold}
svg{width:100%;height:140px;background:#fcfcff}
</style></head><body>
<header><span>rar view</span><button id="first">&laquo;</button><button id="prev">&lsaquo; step</button>
<input id="slider" type="range"><button id="next">step &rsaquo;</button><button id="last">&raquo;</button>
<span>step <b id="step"></b></span><span id="range"></span></header>
<div style="padding:6px 10px" id="where"></div>
<main>
<section style="grid-row:span 2"><h2>source</h2><pre id="source"></pre></section>
<section><h2>process tree</h2><pre id="tree"></pre></section>
<section><h2>stack</h2><pre id="stack"></pre></section>
<section><h2>locals</h2><pre id="locals"></pre></section>
<section><h2>memory (first ${MEM_WORDS} words)</h2><pre id="mem"></pre></section>
<section><h2>capability events</h2><pre id="caps"></pre></section>
<section style="grid-column:span 2"><h2>gas and memory per process over steps</h2><svg id="plot" viewBox="0 0 1000 140" preserveAspectRatio="none"></svg><svg id="overview" viewBox="0 0 1000 140" preserveAspectRatio="none"></svg></section>
</main>
<script id="data" type="application/json">${json}</script>
<script>
"use strict";
const D=JSON.parse(document.getElementById("data").textContent);
const ST=["ready","done","fault","out_of_gas","out_of_mem","yielded","cap_call"];
const $=(id)=>document.getElementById(id);
const esc=(s)=>String(s).replace(/[&<>]/g,(c)=>({"&":"&amp;","<":"&lt;",">":"&gt;"}[c]));
const hex=(w)=>"0x"+(w>>>0).toString(16).padStart(8,"0");
let i=0;
const slider=$("slider");slider.min=0;slider.max=D.steps.length-1;
$("range").textContent="steps "+D.from+".."+D.to+" of "+D.first+".."+D.end+" ("+D.file+")";
function memAt(k,p){for(let j=k;j>=0;j--){const s=D.steps[j];if(s[0]===p&&s[8])return s[8];}return [];}
function show(k){
  i=Math.max(0,Math.min(D.steps.length-1,k));slider.value=i;
  const s=D.steps[i];const step=D.from+i;
  const file=s[2]>=0?D.files[s[2]]:"?";
  $("step").textContent=step;
  $("where").textContent="step "+step+"  process "+D.procs[s[0]]+"  "+D.fns[s[4]]+"  "+file+":"+s[3]+"  pc "+s[1]+"  ("+s[11]+")  root gas "+s[5];
  const lines=Object.hasOwn(D.sources,file)?D.sources[file]:null;
  if(lines){$("source").innerHTML=lines.map((l,n)=>'<span id="L'+(n+1)+'"'+(n+1===s[3]?' class="cur"':'')+'><span class="ln">'+(n+1)+'</span>'+esc(l)+'</span>').join("\\n");
    const c=$("L"+s[3]);if(c)c.scrollIntoView({block:"nearest"});}
  else $("source").textContent="(no source recorded for "+file+")";
  $("stack").textContent=s[10].map((f,n)=>"#"+n+"  "+f).join("\\n")+"\\noperands: "+s[7].join(" ");
  $("locals").textContent=s[6].map((v,n)=>"local "+n+" = "+v+"  ("+hex(v)+")").join("\\n");
  const mem=memAt(i,s[0]);
  $("mem").textContent="process "+D.procs[s[0]]+" ("+s[12]+" words)\\n"+mem.map((w,n)=>String(n).padStart(4)+": "+hex(w)+" "+w).join("\\n");
  $("caps").textContent=D.caps.filter((c)=>c[0]<=step).map((c)=>"step "+c[0]+": "+c[1]).join("\\n")||"(none yet)";
  $("tree").innerHTML=s[9].map((p)=>{const path=D.procs[p[0]];const d=path.split(".").length-1;
    return "  ".repeat(d)+'<span class="st'+p[1]+'">'+esc(path)+"  "+ST[p[1]]+"</span>  gas "+p[2]+"/"+p[4]+"  mem "+p[3]+"/"+p[5]+(p[0]===s[0]?"  ◀":"");}).join("\\n");
  plot($("plot"),D.steps.map((x,n)=>[D.from+n,x[9]]),step);
}
const COLORS=["#1f77b4","#d62728","#2ca02c","#9467bd","#ff7f0e","#8c564b","#e377c2","#17becf"];
function plot(svg,rows,mark){
  const series=new Map();let maxG=1,maxM=1;const x0=rows[0][0],x1=Math.max(rows[rows.length-1][0],x0+1);
  for(const [k,tree] of rows)for(const p of tree){if(!series.has(p[0]))series.set(p[0],[]);series.get(p[0]).push([k,p[2],p[3]]);maxG=Math.max(maxG,p[2]);maxM=Math.max(maxM,p[3]);}
  const X=(k)=>((k-x0)/(x1-x0))*1000;let out="";let c=0;
  for(const [p,pts] of series){const col=COLORS[c++%COLORS.length];
    out+='<polyline fill="none" stroke="'+col+'" stroke-width="1.5" points="'+pts.map((q)=>X(q[0]).toFixed(1)+","+(135-q[1]/maxG*125).toFixed(1)).join(" ")+'"><title>gas of '+esc(D.procs[p])+'</title></polyline>';
    out+='<polyline fill="none" stroke="'+col+'" stroke-dasharray="4 3" stroke-width="1" points="'+pts.map((q)=>X(q[0]).toFixed(1)+","+(135-q[2]/maxM*125).toFixed(1)).join(" ")+'"><title>memory of '+esc(D.procs[p])+'</title></polyline>';}
  if(mark!==null)out+='<line x1="'+X(mark)+'" x2="'+X(mark)+'" y1="0" y2="140" stroke="#000" stroke-width="1"/>';
  svg.innerHTML=out;
}
plot($("overview"),D.overview,null);
slider.addEventListener("input",()=>show(Number(slider.value)));
$("next").onclick=()=>show(i+1);$("prev").onclick=()=>show(i-1);$("first").onclick=()=>show(0);$("last").onclick=()=>show(D.steps.length-1);
document.addEventListener("keydown",(e)=>{if(e.key==="ArrowRight")show(i+1);if(e.key==="ArrowLeft")show(i-1);});
show(0);
</script></body></html>
`;
}

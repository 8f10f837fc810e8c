// The rnnlab playground: tabs built from GET /models, one form per verb from its option schema, results
// drawn from the JSON every verb returns (the same as `rnnlab VERB --json`). No framework, nothing fetched
// but this server's own API. Text from the server is only ever set as textContent (never parsed as HTML).
"use strict";

const state = { models: [], model: null, tab: null, token: sessionStorage.getItem("rnnlab-token") || "" };
// This page's own chat conversation on the server (a chat model keeps one per id), kept across reloads.
state.conversation = sessionStorage.getItem("rnnlab-conversation") || `page-${Math.random().toString(36).slice(2, 10)}`;
sessionStorage.setItem("rnnlab-conversation", state.conversation);
const $ = (id) => document.getElementById(id);

const EXAMPLES = {
  score: "白日依山尽\n黄河入海流\nthe cat sat on the mat",
  translate: "Es regnet.", tag: "ann went to new rome", classify: "the film was great",
  cloze: "the ___ meows", predict: "CCO", next: "白日依山\nthe cat sat on the", trace: "白日依山尽，黄河入海流。", smiles: "CCO", tree: "[MAX 2 9 [MIN 4 7 ] 0 ]",
};
// Sliders for the sampling options; 0 on a slider whose option may be null means "not set".
const SLIDERS = {
  temperature: [0, 2, 0.05], top_p: [0, 1, 0.05], top_k: [0, 200, 1], max_tokens: [1, 1000, 1],
  num_samples: [1, 10, 1], beam: [0, 16, 1], n_best: [1, 10, 1],
};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== false && value !== null && value !== undefined) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function showError(message) {
  const box = $("error");
  box.hidden = !message;
  box.textContent = message ? `Error: ${message}` : "";
}

// ------------------------------------------------------------------------------------------------ API
async function api(path, body, onEvent) {
  const headers = { "Content-Type": "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (onEvent) headers.Accept = "text/event-stream";
  const response = await fetch(path, body === undefined ? { headers } : { method: "POST", headers, body: JSON.stringify(body) });
  if (response.status === 401) $("token-box").hidden = false;
  const type = response.headers.get("content-type") || "";
  if (!response.ok) {
    const detail = type.includes("json") ? (await response.json()).detail : await response.text();
    throw new Error(`${response.status}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
  }
  if (!onEvent || !type.includes("text/event-stream")) return response.json();
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let kind = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) kind = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      const payload = data ? JSON.parse(data) : {};
      if (kind === "error") throw new Error(`${payload.status}: ${payload.detail}`);
      onEvent(kind, payload);
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------- models
async function loadModels() {
  showError("");
  try {
    state.models = (await api("/models")).models;
  } catch (error) {
    showError(error.message);
    return;
  }
  const select = $("model");
  select.replaceChildren(...state.models.map((m) => el("option", { value: m.name, text: `${m.name} (${m.task})` })));
  if (!state.models.length) showError("this server serves no models");
  else selectModel(state.models[0].name);
}

function selectModel(name) {
  state.model = state.models.find((m) => m.name === name);
  const config = state.model.config.model || {};
  $("model-info").textContent = state.model.summary + (config.cell ? ` · ${config.cell} ${config.hidden_size || ""}` : "");
  const tabs = Object.keys(state.model.verbs);
  if (state.models.filter((m) => m.verbs.score).length >= 1) tabs.push("compare");
  $("tabs").replaceChildren(...tabs.map((verb) => el("button", {
    role: "tab", id: `tab-${verb}`, "aria-controls": "panel", text: verb === "compare" ? "compare scores" : verb,
    onclick: () => selectTab(verb), onkeydown: tabKeys,
  })));
  selectTab(tabs.includes(state.tab) ? state.tab : tabs[0], false);
}

function tabKeys(event) {
  const tabs = [...$("tabs").children];
  const index = tabs.indexOf(event.target);
  const next = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 }[event.key];
  if (next === undefined) return;
  event.preventDefault();
  const tab = tabs[(next + tabs.length) % tabs.length];
  tab.focus();
  tab.click();
}

function selectTab(verb, focus = true) {
  state.tab = verb;
  for (const tab of $("tabs").children) {
    const selected = tab.id === `tab-${verb}`;
    tab.setAttribute("aria-selected", selected);
    tab.tabIndex = selected ? 0 : -1;
    if (selected && focus) tab.focus();
  }
  showError("");
  $("panel").setAttribute("aria-labelledby", `tab-${verb}`);
  $("panel").replaceChildren(verb === "compare" ? comparePanel() : verbPanel(state.model, verb));
}

// ------------------------------------------------------------------------------------------------ forms
function optionControl(option) {
  const id = `opt-${option.name}`;
  const label = el("label", { for: id, text: option.name.replaceAll("_", " ") });
  const help = el("small", { text: option.help });
  let input;
  if (option.kind === "bool") {
    input = el("input", { type: "checkbox", id, checked: option.default === true });
    input.read = () => input.checked;
  } else if (option.choices) {
    input = el("select", { id }, ...option.choices.map((c) => el("option", { value: c, text: c, selected: c === option.default })));
    input.read = () => input.value;
  } else if (SLIDERS[option.name] && (option.kind === "int" || option.kind === "float")) {
    const [min, max, step] = SLIDERS[option.name];
    const start = option.default === null ? min : option.default;
    const shown = el("output", { for: id });
    input = el("input", { type: "range", id, min, max, step, value: start });
    const show = () => { shown.textContent = option.default === null && Number(input.value) === min ? "off" : input.value; };
    input.addEventListener("input", show);
    show();
    input.read = () => (option.default === null && Number(input.value) === min ? null : Number(input.value));
    label.append(" ", shown);
  } else if (option.kind === "int" || option.kind === "float") {
    input = el("input", { type: "number", id, step: option.kind === "int" ? 1 : "any", value: option.default ?? "", placeholder: option.default === null ? "default" : "" });
    input.read = () => (input.value === "" ? null : Number(input.value));
  } else if (option.kind === "list") {
    input = el("input", { type: "text", id, placeholder: "comma-separated", value: (option.default || []).join(",") });
    input.read = () => input.value.split(",").map((s) => s.trim()).filter(Boolean);
  } else if (option.name === "conversation") {  // chat: this page's conversation unless the user names one
    input = el("input", { type: "text", id, value: state.conversation });
    input.read = () => input.value || null;
  } else {
    input = el("input", { type: "text", id, value: option.default ?? "" });
    input.read = () => (input.value === "" && option.default === null ? null : input.value);
  }
  input.option = option;
  return [el("div", { class: "option" }, label, input, help), input];
}

function changedOptions(inputs) {
  const options = {};
  for (const input of inputs) {
    const value = input.read();
    if (JSON.stringify(value) !== JSON.stringify(input.option.default)) options[input.option.name] = value;
  }
  return options;
}

function readFiles(fileInput) {
  return Promise.all([...fileInput.files].map((file) => new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve({ name: file.name, data: String(reader.result).split(",", 2)[1] });
    reader.onerror = () => reject(new Error(`cannot read ${file.name}`));
    reader.readAsDataURL(file);
  })));
}

function verbPanel(model, name) {
  const verb = model.verbs[name];
  const out = el("div", { class: "output", "aria-live": "polite" });
  let inputBox = null;
  if (verb.inputs === "text") {
    inputBox = el("textarea", { id: "inputs", "aria-label": `${verb.what}, one per line`, placeholder: `${verb.what}, one per line` });
    inputBox.value = EXAMPLES[name] || "";
  } else if (verb.inputs === "files") {
    inputBox = el("input", { type: "file", id: "inputs", multiple: true, accept: "image/*", "aria-label": verb.what });
  }
  const controls = verb.options.map(optionControl);
  const run = el("button", { type: "submit", text: `Run ${name}` });
  const form = el("form", {
    onsubmit: async (event) => {
      event.preventDefault();
      showError("");
      out.replaceChildren();
      run.disabled = true;
      try {
        const body = { options: changedOptions(controls.map(([, input]) => input)) };
        if (verb.inputs === "text") body.inputs = inputBox.value.split("\n").filter((line) => line.trim());
        if (verb.inputs === "files") body.inputs = await readFiles(inputBox);
        await runVerb(model.name, name, body, out, verb.inputs === "none");
      } catch (error) {
        showError(error.message);
      } finally {
        run.disabled = false;
      }
    },
    onkeydown: (event) => { if (event.key === "Enter" && event.ctrlKey) { event.preventDefault(); run.click(); } },
  },
  el("p", { class: "help", text: verb.description || verb.help }),
  inputBox ? el("label", { for: "inputs", text: verb.inputs === "files" ? `${verb.what} (files)` : `${verb.what}, one per line` }) : null,
  inputBox,
  el("div", { class: "options" }, ...controls.map(([wrapper]) => wrapper)),
  el("div", { class: "actions" }, run));
  return el("div", {}, form, out);
}

async function runVerb(model, verb, body, out, stream) {
  if (!stream) {
    const answer = await api(`/models/${model}/${verb}`, body);
    answer.results.forEach((result) => out.append(renderResult(result)));
    answer.artifacts.forEach((artifact) => out.append(renderArtifact(artifact)));
    if (!answer.results.length && !answer.artifacts.length) out.append(el("p", { class: "muted", text: "(no results)" }));
    return;
  }
  const live = el("div", { class: "stream" });
  let streamed = false;
  out.append(live);
  await api(`/models/${model}/${verb}`, { ...body, stream: true }, (kind, data) => {
    if (kind === "delta") { streamed = true; live.textContent += data.text; }
    else if (kind === "result") { if (!streamed || Object.keys(data).length > 2) out.append(renderResult(data)); streamed = false; live.append("\n"); }
    else if (kind === "artifact") out.append(renderArtifact(data));
  });
  if (!live.textContent.trim()) live.remove();
}

// -------------------------------------------------------------------------------------------- results
function bars(pairs, scale = (p) => p, format = (p) => p.toFixed(3)) {
  const rows = [];
  for (const [label, value] of pairs) {
    const width = Math.max(0, Math.min(1, scale(value))) * 100;
    rows.push(el("span", { text: label }), el("div", { class: `bar${width < 5 ? " low" : ""}`, style: `width:${width}%` }), el("span", { text: format(value) }));
  }
  return el("div", { class: "bars" }, ...rows);
}

function renderResult(result) {
  const box = el("div", { class: "result" });
  if (Array.isArray(result.token_logprobs)) {
    box.append(el("div", { text: `${result.text}   ln P = ${result.logprob.toFixed(2)}   perplexity ${result.perplexity === null ? "∞" : result.perplexity.toFixed(2)}` }));
    box.append(bars(result.token_logprobs, (lp) => Math.exp(lp), (lp) => `p ${Math.exp(lp).toFixed(3)}`));
  } else if (Array.isArray(result.gates) && Array.isArray(result.gradient_norms)) {
    box.append(renderTrace(result));
  } else if (typeof result.reply === "string" && typeof result.message === "string") {  // chat: a transcript
    box.classList.add("chat");
    box.append(el("div", { class: "you", text: `you: ${result.message}` }), el("div", { class: "bot", text: `${result.persona || "model"}: ${result.reply}` }));
  } else if (Array.isArray(result.next) && typeof result.context === "string") {
    box.append(el("div", { text: `after “${result.context}”` }), bars(result.next));
  } else if (result.probabilities && typeof result.probabilities === "object") {
    box.append(el("div", { text: `${result.label}   ${result.text ?? ""}` }), bars(Object.entries(result.probabilities)));
  } else if (Array.isArray(result.tokens) && Array.isArray(result.tags)) {
    box.append(el("div", { class: "chips" }, ...result.tokens.map((token, i) => el("span", {}, token, el("b", { text: result.tags[i] })))));
  } else if (Array.isArray(result.bidirectional) && Array.isArray(result.forward)) {
    box.append(el("div", { text: result.sentence }), el("div", { class: "columns" },
      el("div", {}, el("strong", { text: "bidirectional" }), bars(result.bidirectional)),
      el("div", {}, el("strong", { text: "forward only" }), bars(result.forward))));
  } else if (Array.isArray(result.translations)) {
    box.append(el("div", { class: "muted", text: result.source }),
      el("ol", {}, ...result.translations.map((t) => el("li", { text: `${t.text}   (${Number(t.score).toFixed(3)})` }))));
  } else {
    const rows = Object.entries(result).map(([key, value]) => el("tr", {}, el("th", { text: key }),
      el("td", {}, typeof value === "object" && value !== null ? el("pre", { text: JSON.stringify(value, null, 1) }) : String(value))));
    box.append(el("table", {}, ...rows));
  }
  return box;
}

// ------------------------------------------------------------------------------------- look inside
// A `trace` result: the tokens (click one for the model's next-token bars after it), one heatmap per gate
// (units down, tokens across; sigmoid gates on 0..1, the others on ±their largest value), and the
// gradient norm of the last prediction with respect to each input token, on a log scale.
function renderTrace(result) {
  const wrap = el("div", { class: "trace" });
  const nextBox = el("div", { class: "next-bars", "aria-live": "polite" });
  const showNext = (i) => {
    nextBox.replaceChildren(el("div", { class: "muted", text: `after “${result.tokens.slice(0, i + 1).join(" ")}”, the model expects:` }), bars(result.next[i]));
    chips.querySelectorAll("button").forEach((b, j) => b.setAttribute("aria-pressed", j === i));
  };
  const chips = el("div", { class: "chips tokens" }, ...result.tokens.map((token, i) => el("button", {
    type: "button", text: token, title: `next-token bars after this token`, onclick: () => showNext(i),
  })));
  wrap.append(el("strong", { text: "tokens" }), chips, nextBox);
  showNext(result.tokens.length - 1);
  wrap.append(el("strong", { text: "gates (units ↓, tokens →)" }));
  for (const gate of result.gates) wrap.append(heatmap(gate, result.tokens));
  if (result.gradient_norms.length) {
    wrap.append(el("strong", { text: "gradient norm through time: |∂ log P(last token) / ∂ input embedding|" }), normCurve(result.gradient_norms, result.tokens));
    if (result.gradient_decay !== null) wrap.append(el("div", { class: "muted", text: `× ${result.gradient_decay} per step back in time` }));
  }
  if (result.cut) wrap.append(el("div", { class: "muted", text: "(the text was cut to max tokens)" }));
  return wrap;
}

function heatmap(gate, tokens) {
  const rows = gate.values.length, units = rows ? gate.values[0].length : 0, cell = 8;
  const canvas = el("canvas", { width: Math.max(1, rows * cell), height: Math.max(1, units * cell), role: "img",
    "aria-label": `gate ${gate.gate}, layer ${gate.layer} ${gate.direction}: ${units} units over ${rows} tokens` });
  const context = canvas.getContext("2d");
  const bound = gate.range ? 1 : Math.max(1e-6, ...gate.values.flat().map(Math.abs));
  gate.values.forEach((row, t) => row.forEach((value, u) => {
    if (gate.range) { const v = Math.round(255 * Math.min(1, Math.max(0, value))); context.fillStyle = `rgb(${v},${Math.round(v * 0.8 + 40)},${255 - v})`; }
    else { const v = Math.max(-1, Math.min(1, value / bound)); context.fillStyle = v >= 0 ? `rgb(255,${Math.round(255 * (1 - v))},${Math.round(255 * (1 - v))})` : `rgb(${Math.round(255 * (1 + v))},${Math.round(255 * (1 + v))},255)`; }
    context.fillRect(t * cell, u * cell, cell, cell);
  }));
  canvas.title = `${tokens.join(" ")}`;
  return el("figure", { class: "heatmap" }, canvas, el("figcaption", { class: "muted", text: `layer ${gate.layer} ${gate.direction} · gate ${gate.gate} · ${gate.range ? "0 … 1" : `±${bound.toFixed(2)}`}` }));
}

function normCurve(norms, tokens) {
  const width = 480, height = 120, pad = 4, svgNS = "http://www.w3.org/2000/svg";
  const logs = norms.map((n) => Math.log10(Math.max(n, 1e-12)));
  const low = Math.min(...logs), high = Math.max(...logs), span = Math.max(high - low, 1e-9);
  const x = (i) => pad + (norms.length === 1 ? 0 : (i * (width - 2 * pad)) / (norms.length - 1));
  const y = (v) => height - pad - ((v - low) * (height - 2 * pad)) / span;
  const svg = document.createElementNS(svgNS, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("class", "curve");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `gradient norms from ${norms[0].toExponential(2)} at “${tokens[0]}” to ${norms[norms.length - 1].toExponential(2)} at “${tokens[norms.length - 1]}”`);
  const line = document.createElementNS(svgNS, "polyline");
  line.setAttribute("points", logs.map((v, i) => `${x(i)},${y(v)}`).join(" "));
  svg.append(line);
  return el("figure", {}, svg, el("figcaption", { class: "muted", text: `log scale, 10^${low.toFixed(1)} … 10^${high.toFixed(1)}; left: the first token, right: the last input` }));
}

function renderArtifact(artifact) {
  const url = `data:${artifact.media_type};base64,${artifact.data}`;
  const body = artifact.media_type.startsWith("image/")
    ? el("img", { src: url, alt: artifact.name })
    : el("a", { href: url, download: artifact.name, text: `download ${artifact.name}` });
  return el("figure", { class: "artifact" }, body, el("figcaption", { class: "muted", text: `${artifact.name} (${artifact.media_type})` }));
}

// ------------------------------------------------------------------------------------- compare scores
function comparePanel() {
  const scorers = state.models.filter((m) => m.verbs.score);
  const boxes = scorers.map((m, i) => el("input", { type: "checkbox", id: `cmp-${m.name}`, value: m.name, checked: i < 3 }));
  const sentences = el("textarea", { id: "cmp-inputs" });
  sentences.value = EXAMPLES.score;
  const out = el("div", { class: "output columns", "aria-live": "polite" });
  const run = el("button", { type: "submit", text: "Score with each model" });
  const form = el("form", {
    onsubmit: async (event) => {
      event.preventDefault();
      showError("");
      out.replaceChildren();
      run.disabled = true;
      const inputs = sentences.value.split("\n").filter((line) => line.trim());
      const chosen = boxes.filter((box) => box.checked).map((box) => box.value);
      const answers = await Promise.allSettled(chosen.map((name) => api(`/models/${name}/score`, { inputs })));
      answers.forEach((answer, i) => {
        const column = el("div", {}, el("h3", { text: chosen[i] }));
        if (answer.status === "fulfilled") answer.value.results.forEach((r) => column.append(renderResult(r)));
        else column.append(el("p", { role: "alert", text: answer.reason.message }));
        out.append(column);
      });
      run.disabled = false;
    },
    onkeydown: (event) => { if (event.key === "Enter" && event.ctrlKey) { event.preventDefault(); run.click(); } },
  },
  el("p", { class: "help", text: "The same sentences scored by several models side by side (an n-gram model next to an RNN): log-probability, perplexity and each token's probability." }),
  el("fieldset", {}, el("legend", { text: "models" }), ...scorers.flatMap((m, i) => [boxes[i], el("label", { for: `cmp-${m.name}`, text: ` ${m.name} (${m.task}) ` })])),
  el("label", { for: "cmp-inputs", text: "sentences, one per line" }), sentences,
  el("div", { class: "actions" }, run));
  return el("div", {}, form, out);
}

// ---------------------------------------------------------------------------------------------- start
$("model").addEventListener("change", (event) => selectModel(event.target.value));
$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.token = $("token").value.trim();
  sessionStorage.setItem("rnnlab-token", state.token);
  $("token-box").hidden = true;
  loadModels();
});
loadModels();

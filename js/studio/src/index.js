// The studio widget's front end (anywidget): the graph, live runs, threads, time travel
// and interrupts. State comes from the kernel as synced traits (graph, schemas, threads,
// thread, checkpoint, live, status); actions go back as messages (model.send).
import { drawGraph } from "./graph.js";
import { isComplete, jsonTree } from "./tree.js";
import css from "./studio.css";

// Status dots drawn by CSS (emoji fonts are not everywhere a notebook runs).
function dot(status) {
  const d = document.createElement("span");
  d.className = `lgp-dot lgp-st-${status || "unknown"}`;
  d.title = status || "";
  return d;
}

function h(tag, cls, text) {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  if (text !== undefined && text !== null) el.textContent = text;
  return el;
}

function button(label, cls, onClick) {
  const b = h("button", `lgp-btn ${cls || ""}`, label);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

function fmtMs(ms) {
  if (ms === null || ms === undefined) return "";
  return ms < 1000 ? `${ms.toFixed(ms < 10 ? 1 : 0)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function fmtTime(iso) {
  if (!iso) return "?";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleTimeString();
}

// A value typed by a person: JSON when it parses, else the text (as the kernel does).
function jsonOrText(text) {
  const s = text.trim();
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

function parseJson(label, text) {
  if (!text.trim()) return null;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${label}: not valid JSON (${err.message}); write it as {"key": "value"}`);
  }
}

// Form fields from a JSON schema's properties: text, number, checkbox, else JSON.
function schemaFields(form, props, defaults, prefix) {
  const fields = [];
  for (const [key, spec] of Object.entries(props)) {
    const type = spec.type;
    const row = h("label", "lgp-field");
    row.append(h("span", "lgp-key", prefix + key));
    let input;
    const initial = defaults && key in defaults ? defaults[key] : spec.default;
    if (type === "string" || type === "number" || type === "integer") {
      input = h("input");
      input.type = type === "string" ? "text" : "number";
      if (initial !== undefined && initial !== null) input.value = String(initial);
    } else if (type === "boolean") {
      input = h("input");
      input.type = "checkbox";
      input.checked = !!initial;
    } else {
      input = h("textarea");
      input.rows = 2;
      input.value = initial !== undefined ? JSON.stringify(initial) : "";
      input.placeholder = "JSON";
    }
    input.dataset.key = prefix + key;
    row.append(input);
    form.append(row);
    fields.push([key, type, input]);
  }
  return fields;
}

// The object the fields hold (empty text and number fields are left out).
function readFields(fields) {
  const out = {};
  for (const [key, type, el] of fields) {
    if (type === "boolean") out[key] = el.checked;
    else if (type === "number" || type === "integer") {
      if (el.value !== "") out[key] = Number(el.value);
    } else if (type === "string") {
      if (el.value !== "") out[key] = el.value;
    } else if (el.value.trim()) out[key] = parseJson(key, el.value);
  }
  return out;
}

function render({ model, el }) {
  el.classList.add("lgp-studio");
  const style = h("style");
  style.textContent = css;
  el.append(style);

  const ui = {
    tab: "threads",
    expand: false,
    cursors: [null], // `before` cursor of each timeline page shown so far
    page: 0,
  };
  const send = (msg) => model.send(msg);

  // ---------------------------------------------------------------- skeleton
  const head = h("div", "lgp-head");
  const title = h("span", "lgp-title", "lgp studio");
  const expand = h("label", "lgp-expand");
  const expandBox = h("input");
  expandBox.type = "checkbox";
  expand.append(expandBox, " expand subgraphs");
  const statusLine = h("span", "lgp-status");
  head.append(title, expand, statusLine);

  const body = h("div", "lgp-body");
  const graphPane = h("div", "lgp-graph-pane");
  const side = h("div", "lgp-side");
  body.append(graphPane, side);

  const tabs = h("div", "lgp-tabs");
  const panes = {};
  for (const [key, label] of [["threads", "Threads"], ["run", "Run"], ["live", "Live"]]) {
    const t = button(label, "lgp-tab", () => showTab(key));
    t.dataset.tab = key;
    tabs.append(t);
    panes[key] = h("div", `lgp-pane lgp-pane-${key}`);
  }
  side.append(tabs, ...Object.values(panes));
  el.append(head, body);

  function showTab(key) {
    ui.tab = key;
    for (const t of tabs.children) t.classList.toggle("lgp-active", t.dataset.tab === key);
    for (const [k, p] of Object.entries(panes)) p.style.display = k === key ? "" : "none";
  }

  function say(kind, text) {
    statusLine.className = `lgp-status lgp-${kind}`;
    statusLine.textContent = text;
  }

  // ---------------------------------------------------------------- graph
  let nodeEls = new Map();
  function drawShape() {
    const graph = model.get("graph") || {};
    graphPane.textContent = "";
    title.textContent = graph.name ? `lgp studio · ${graph.name} v${graph.version}` : "lgp studio";
    expand.style.display = graph.xray ? "" : "none";
    if (graph.error) graphPane.append(h("div", "lgp-error", graph.error));
    const shape = ui.expand && graph.xray ? graph.xray : graph.flat;
    if (!shape || !shape.nodes || !shape.nodes.length) {
      graphPane.append(h("div", "lgp-empty", "no graph: open the studio on a workflow, or pick a thread"));
      nodeEls = new Map();
      return;
    }
    const drawn = drawGraph(shape);
    nodeEls = drawn.nodeEls;
    graphPane.append(drawn.svg);
    paintLive();
    paintWriters();
  }
  expandBox.addEventListener("change", () => {
    ui.expand = expandBox.checked;
    drawShape();
  });

  // Nodes light up by the live run's node statuses (running, done, error).
  function paintLive() {
    const live = model.get("live") || {};
    const nodes = live.nodes || {};
    for (const [id, g] of nodeEls) {
      const top = id.split(":")[0];
      const st = nodes[id] || (id === top ? null : null) || nodes[top];
      g.classList.toggle("lgp-running", !!st && st.status === "running");
      g.classList.toggle("lgp-done", !!st && st.status === "ok");
      g.classList.toggle("lgp-failed", !!st && st.status === "error");
      g.classList.toggle("lgp-paused", !!st && st.status === "interrupted");
      const badge = g.querySelector(".lgp-badge");
      if (badge) badge.textContent = st && st.duration_ms != null ? fmtMs(st.duration_ms) + (st.count > 1 ? ` ×${st.count}` : "") : "";
    }
  }

  // The nodes that wrote the selected checkpoint are outlined.
  function paintWriters() {
    const cp = model.get("checkpoint") || {};
    const thread = model.get("thread") || {};
    const info = (thread.checkpoints || []).find((c) => c.checkpoint_id === cp.checkpoint_id);
    const writers = new Set(info && info.source === "loop" ? info.nodes : []);
    for (const [id, g] of nodeEls) g.classList.toggle("lgp-wrote", writers.has(id));
    const next = new Set(thread.checkpoints && cp.checkpoint_id === (thread.checkpoints[0] || {}).checkpoint_id ? thread.next || [] : []);
    for (const [id, g] of nodeEls) g.classList.toggle("lgp-next", next.has(id));
  }

  // ---------------------------------------------------------------- threads
  const threadList = h("div", "lgp-thread-list");
  const threadNav = h("div", "lgp-nav");
  const detail = h("div", "lgp-thread-detail");
  panes.threads.append(threadNav, threadList, detail);

  function drawThreads() {
    const threads = model.get("threads") || {};
    const items = threads.items || [];
    const open = ((model.get("thread") || {}).info || {}).thread_id;
    threadList.textContent = "";
    threadNav.textContent = "";
    const offset = threads.offset || 0;
    const size = threads.page_size || 20;
    const total = threads.total || 0;
    threadNav.append(
      button("⟳", "lgp-small", () => send({ type: "refresh" })),
      button("◀", "lgp-small", () => send({ type: "page_threads", offset: Math.max(0, offset - size) })),
      button("▶", "lgp-small", () => send({ type: "page_threads", offset: offset + size })),
      h("span", "lgp-muted", total ? `threads ${offset + 1}–${offset + items.length} of ${total}` : "no threads yet: start a run"),
    );
    threadNav.children[1].disabled = offset === 0;
    threadNav.children[2].disabled = offset + items.length >= total;
    for (const t of items) {
      const row = h("div", "lgp-thread");
      row.dataset.thread = t.thread_id;
      row.classList.toggle("lgp-selected", t.thread_id === open);
      row.append(
        dot(t.status),
        h("span", "lgp-id", t.thread_id),
        h("span", "lgp-muted", `${t.workflow || "?"} v${t.workflow_version || "?"} · ${t.checkpoints} ckpts · ${fmtTime(t.updated_at)}`),
      );
      row.addEventListener("click", () => {
        ui.cursors = [null];
        ui.page = 0;
        send({ type: "select_thread", thread_id: t.thread_id });
      });
      threadList.append(row);
    }
  }

  function drawThread() {
    const thread = model.get("thread") || {};
    detail.textContent = "";
    const info = thread.info;
    if (!info) return;
    for (const row of threadList.children) row.classList.toggle("lgp-selected", row.dataset.thread === info.thread_id);
    const top = h("div", "lgp-thread-head");
    // A breakpoint leaves no interrupt value: the thread reads idle, yet waits on `next`.
    const status = info.status === "idle" && thread.next && thread.next.length ? "paused" : info.status;
    top.append(dot(status), h("b", "", info.thread_id), h("span", "lgp-muted", ` ${status} · ${info.checkpoints} checkpoints`));
    const del = button("Delete thread", "lgp-danger", () => {
      del.replaceWith(confirmBox);
    });
    const confirmBox = h("span", "lgp-confirm");
    confirmBox.append(
      h("span", "", `Delete ${info.thread_id} and all its checkpoints? `),
      button("Yes, delete", "lgp-danger", () => send({ type: "delete", thread_id: info.thread_id })),
      button("Cancel", "", () => confirmBox.replaceWith(del)),
    );
    top.append(del);
    detail.append(top);
    if (info.interrupts && info.interrupts.length) detail.append(interruptForm(info));
    else if (thread.next && thread.next.length) detail.append(breakpointBox(info, thread.next));
    detail.append(timeline(thread), checkpointView());
  }

  // A breakpoint (interrupt_before/after): no value to answer, the run just continues.
  function breakpointBox(info, next) {
    const box = h("div", "lgp-interrupt lgp-breakpoint");
    box.append(
      h("span", "lgp-label", `Paused before ${next.join(", ")} `),
      button("Continue", "lgp-primary lgp-continue", () => send({ type: "continue", thread_id: info.thread_id })),
    );
    return box;
  }

  function interruptForm(info) {
    const box = h("div", "lgp-interrupt");
    for (const it of info.interrupts) {
      box.append(h("div", "lgp-label", `Waiting in ${it.node || "?"} for an answer:`));
      box.append(jsonTree(it.value, () => {}));
    }
    const value = h("textarea", "lgp-resume-value");
    value.rows = 2;
    value.placeholder = "resume value: JSON or text";
    const go = (v) => send({ type: "resume", thread_id: info.thread_id, value: v });
    const buttons = h("div", "lgp-row-buttons");
    buttons.append(button("Resume", "lgp-primary lgp-resume", () => {
      if (!value.value.trim()) return say("error", "type a resume value first (JSON or text)");
      go(jsonOrText(value.value));
    }));
    const first = info.interrupts[0].value;
    const options = first && typeof first === "object" && (first.options || first.choices || first.actions);
    if (Array.isArray(options)) {
      for (const opt of options) buttons.append(button(String(typeof opt === "object" ? JSON.stringify(opt) : opt), "lgp-choice", () => go(opt)));
    } else {
      buttons.append(button("Approve (true)", "lgp-approve", () => go(true)), button("Reject (false)", "lgp-reject", () => go(false)));
    }
    box.append(value, buttons);
    return box;
  }

  function timeline(thread) {
    const box = h("div", "lgp-timeline");
    const nav = h("div", "lgp-nav");
    const newer = button("newer", "lgp-small", () => {
      if (ui.page === 0) return;
      ui.page -= 1;
      send({ type: "select_thread", thread_id: thread.info.thread_id, before: ui.cursors[ui.page] });
    });
    const older = button("older", "lgp-small", () => {
      const last = thread.checkpoints[thread.checkpoints.length - 1];
      ui.cursors[ui.page + 1] = last.checkpoint_id;
      ui.page += 1;
      send({ type: "select_thread", thread_id: thread.info.thread_id, before: last.checkpoint_id });
    });
    newer.disabled = ui.page === 0 || !thread.before;
    older.disabled = !thread.has_more;
    nav.append(h("b", "", "Checkpoints "), newer, older, h("span", "lgp-muted", ` ${thread.checkpoints.length} shown of ${thread.total}`));
    box.append(nav);
    const cp = model.get("checkpoint") || {};
    const list = h("div", "lgp-checkpoints");
    const byId = new Map(thread.checkpoints.map((c) => [c.checkpoint_id, c]));
    thread.checkpoints.forEach((c, i) => {
      const row = h("div", "lgp-checkpoint");
      row.dataset.checkpoint = c.checkpoint_id;
      row.classList.toggle("lgp-selected", c.checkpoint_id === cp.checkpoint_id);
      // A state edit (update_state) is named as such, not by the node it was written as.
      const what = c.source === "update" ? "state edit" : c.source === "fork" ? "forked" : (c.nodes || []).filter((n) => n !== "?").join(", ") || c.source || "?";
      row.append(
        h("span", "lgp-step", `step ${c.step}`),
        h("span", c.source === "update" ? "lgp-edit" : "", what),
        h("span", "lgp-muted", `${fmtTime(c.created_at)} · v${c.workflow_version || "?"}`),
      );
      // Where the history branches: this checkpoint's parent is not the row below it.
      const below = thread.checkpoints[i + 1];
      if (below && c.parent_checkpoint_id && c.parent_checkpoint_id !== below.checkpoint_id) {
        const parent = byId.get(c.parent_checkpoint_id);
        row.append(h("span", "lgp-branch", parent ? `branches off step ${parent.step}` : "branches off an older step"));
      }
      row.addEventListener("click", () => send({ type: "select_checkpoint", thread_id: thread.info.thread_id, checkpoint_id: c.checkpoint_id }));
      list.append(row);
    });
    box.append(list);
    return box;
  }

  const cpBox = h("div", "lgp-cp");
  function checkpointView() {
    cpBox.textContent = "";
    const cp = model.get("checkpoint") || {};
    if (!cp.thread_id) return cpBox;
    cpBox.append(h("div", "lgp-label", `State at ${cp.checkpoint_id || "latest"}`));
    cpBox.append(jsonTree(cp.state, (path) => send({ type: "more", path })));
    if (cp.diff && cp.diff.length) {
      const t = h("table", "lgp-table");
      t.append(row3("channel", "change", "summary", "th"));
      for (const d of cp.diff) t.append(row3(d.channel, d.change, d.summary));
      cpBox.append(h("div", "lgp-label", "Changed vs previous"), t);
    }
    const sizes = Object.entries(cp.bytes || {}).sort((a, b) => b[1] - a[1]);
    if (sizes.length) {
      const top = sizes[0][1] || 1;
      const t = h("table", "lgp-table lgp-bytes");
      for (const [ch, n] of sizes) {
        const bar = h("div", "lgp-bar");
        bar.style.width = `${Math.max(1, Math.round((120 * n) / top))}px`;
        const tr = row3(ch, n.toLocaleString(), "");
        tr.lastChild.append(bar);
        t.append(tr);
      }
      cpBox.append(h("div", "lgp-label", "Bytes per channel"), t);
    }
    cpBox.append(forkForm(cp));
    return cpBox;
  }

  function row3(a, b, c, tag = "td") {
    const tr = h("tr");
    for (const v of [a, b, c]) tr.append(h(tag, "", v));
    return tr;
  }

  function forkForm(cp) {
    const box = h("div", "lgp-fork");
    box.append(h("div", "lgp-label", "Fork from this checkpoint: edit the state, re-run from here"));
    const values = h("textarea", "lgp-fork-values");
    values.rows = 5;
    values.value = isComplete(cp.state) ? JSON.stringify(cp.state, null, 2) : "{}";
    const asNode = h("input", "lgp-as-node");
    asNode.placeholder = "as node (optional)";
    const newThread = h("input");
    newThread.type = "checkbox";
    const label = h("label", "lgp-muted");
    label.append(newThread, " into a new thread");
    const go = button("Fork & re-run", "lgp-primary lgp-fork-run", () => {
      let parsed;
      try {
        parsed = parseJson("state edit", values.value);
      } catch (err) {
        return say("error", err.message);
      }
      // Only what was edited: unchanged channels written again would pass through their
      // reducers (a list with operator.add would grow by itself).
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed) && isComplete(cp.state)) {
        const edited = Object.entries(parsed).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify((cp.state || {})[k]));
        parsed = edited.length ? Object.fromEntries(edited) : null;
      }
      send({
        type: "fork", thread_id: cp.thread_id, checkpoint_id: cp.checkpoint_id, values: parsed,
        as_node: asNode.value.trim() || null, new_thread: newThread.checked,
      });
    });
    const row = h("div", "lgp-row-buttons");
    row.append(go, asNode, label);
    box.append(values, row);
    return box;
  }

  // ---------------------------------------------------------------- run form
  function drawRunForm() {
    const schemas = model.get("schemas") || {};
    const graph = model.get("graph") || {};
    const pane = panes.run;
    pane.textContent = "";
    if (!graph.name) {
      pane.append(h("div", "lgp-muted", "open the studio on a workflow to run it"));
      return;
    }
    const props = (schemas.input && schemas.input.properties) || null;
    const defaults = schemas.default_input;
    const fields = [];
    const form = h("div", "lgp-form");
    let raw = null;
    if (props && (defaults === null || typeof defaults === "object") && !Array.isArray(defaults)) {
      fields.push(...schemaFields(form, props, defaults, ""));
    } else {
      raw = h("textarea", "lgp-input-json");
      raw.rows = 4;
      raw.value = defaults === undefined ? "" : typeof defaults === "string" ? defaults : JSON.stringify(defaults, null, 2);
      form.append(h("span", "lgp-key", "input (JSON or text)"), raw);
    }
    const ctxProps = (schemas.context && schemas.context.properties) || null;
    const ctxBox = h("div", "lgp-form lgp-context-fields");
    const ctxFields = ctxProps ? schemaFields(ctxBox, ctxProps, null, "context.") : [];
    const ctx = h("textarea", "lgp-context");
    ctx.rows = 2;
    ctx.placeholder = ctxProps ? "or the whole context as JSON (wins over the fields)" : "context (JSON, optional)";
    const cfg = h("textarea", "lgp-config");
    cfg.rows = 2;
    cfg.placeholder = 'config (JSON): {"configurable": {...}, "tags": [...]}';
    const thread = h("input", "lgp-run-thread");
    thread.placeholder = "thread id (empty: a new thread)";
    form.append(h("span", "lgp-key", "context"), ctxBox, ctx, h("span", "lgp-key", "config"), cfg, thread);
    const go = button("Run", "lgp-primary lgp-run", () => {
      try {
        const input = raw ? (raw.value.trim() ? jsonOrText(raw.value) : null) : readFields(fields);
        let context = parseJson("context", ctx.value);
        if (context === null && ctxFields.length) {
          context = readFields(ctxFields);
          if (!Object.keys(context).length) context = null;
        }
        send({
          type: "run", input, context,
          config: parseJson("config", cfg.value), thread_id: thread.value.trim() || null,
        });
        showTab("live");
      } catch (err) {
        say("error", err.message);
      }
    });
    pane.append(form, go);
  }

  // ---------------------------------------------------------------- live feed
  function drawLive() {
    const live = model.get("live") || {};
    const pane = panes.live;
    pane.textContent = "";
    const run = live.run;
    if (!run) {
      pane.append(h("div", "lgp-muted", "runs of this workflow show here as they happen (%lgp_run, the API, the SDK, this studio)"));
      return;
    }
    const head = h("div", "lgp-run-head");
    head.dataset.status = run.status;
    const st = { running: "busy", complete: "idle" }[run.status] || run.status;
    head.append(
      dot(st),
      h("b", "", run.status),
      h("span", "lgp-muted", ` thread ${run.thread_id} · v${run.version}${run.duration_ms ? " · " + fmtMs(run.duration_ms) : ""}`),
    );
    const trace = h("div", "lgp-muted lgp-trace", `trace ${run.trace_id}`);
    if (run.trace_url) {
      const a = h("a", "", " open in Langfuse");
      a.href = run.trace_url;
      a.target = "_blank";
      trace.append(a);
    }
    pane.append(head, trace);
    if (run.error) pane.append(h("div", "lgp-error", run.error));
    // Chat-model tokens as they stream (runs started from the studio).
    for (const [node, text] of Object.entries(live.tokens || {})) {
      const box = h("div", "lgp-tokens");
      box.dataset.node = node;
      box.append(h("b", "", `${node} `), h("span", "lgp-muted", "model output"), h("div", "lgp-token-text", text));
      pane.append(box);
    }
    for (const [node, st] of Object.entries(live.nodes || {})) {
      if (st.status === "running") pane.append(h("div", "lgp-event lgp-ev-running", `${node} running…`));
    }
    const list = h("div", "lgp-events");
    for (const ev of (live.events || []).filter((e) => e.trace_id === run.trace_id)) {
      if (ev.type === "node_end") {
        const row = h("div", `lgp-event lgp-ev-${ev.status}`);
        row.append(h("b", "", ev.node), h("span", "lgp-muted", ` ${fmtMs(ev.duration_ms)}`));
        if (ev.error) row.append(h("div", "lgp-error", ev.error));
        else row.append(jsonTree(ev.update, () => {}));
        list.append(row);
      } else if (ev.type === "call") {
        const row = h("div", "lgp-event lgp-ev-call");
        const usage = ev.usage && Object.keys(ev.usage).length ? ` · ${JSON.stringify(ev.usage)}` : "";
        row.append(h("span", "", `↳ ${ev.kind} ${ev.name}${ev.model ? " (" + ev.model + ")" : ""} ${fmtMs(ev.duration_ms)}${usage}`));
        row.append(jsonTree(ev.output, () => {}));
        list.append(row);
      }
    }
    pane.append(list);
  }

  // ---------------------------------------------------------------- wiring
  const onGraph = () => { drawShape(); drawRunForm(); };
  const onLive = () => { paintLive(); drawLive(); };
  const onThreads = () => drawThreads();
  const onThread = () => { drawThread(); paintWriters(); };
  const onCheckpoint = () => { drawThread(); paintWriters(); };
  const onStatus = () => {
    const st = model.get("status") || {};
    say(st.kind || "info", st.text || "");
  };
  model.on("change:graph", onGraph);
  model.on("change:schemas", drawRunForm);
  model.on("change:live", onLive);
  model.on("change:threads", onThreads);
  model.on("change:thread", onThread);
  model.on("change:checkpoint", onCheckpoint);
  model.on("change:status", onStatus);
  onGraph();
  onThreads();
  onThread();
  onLive();
  onStatus();
  showTab(ui.tab);
  return () => {
    model.off("change:graph", onGraph);
    model.off("change:schemas", drawRunForm);
    model.off("change:live", onLive);
    model.off("change:threads", onThreads);
    model.off("change:thread", onThread);
    model.off("change:checkpoint", onCheckpoint);
    model.off("change:status", onStatus);
  };
}

export default { render };

// The workflow's graph as SVG, laid out by dagre (bundled: no network at run time).
// Nodes are <g class="lgp-node" data-node="ID"> so runs can light them up by name.
import dagre from "@dagrejs/dagre";

const SVG = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs = {}, parent = null) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (parent) parent.appendChild(el);
  return el;
}

function nodeLabel(node) {
  if (node.kind === "start") return "start";
  if (node.kind === "end") return "end";
  return node.name;
}

function width(label) {
  return Math.max(72, 7.2 * label.length + 28);
}

// Every "a:b" prefix of a subgraph node id is a cluster drawn around its nodes.
function clustersOf(nodes) {
  const out = new Set();
  for (const n of nodes) {
    const parts = n.id.split(":");
    for (let i = 1; i < parts.length; i++) out.add(parts.slice(0, i).join(":"));
  }
  return [...out];
}

/** Draw `shape` ({nodes, edges}) into a new <svg>; returns {svg, nodeEls}. */
export function drawGraph(shape, { onNodeClick } = {}) {
  const g = new dagre.graphlib.Graph({ compound: true, multigraph: true });
  g.setGraph({ rankdir: "TB", nodesep: 28, ranksep: 38, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  const clusters = clustersOf(shape.nodes);
  for (const c of clusters) g.setNode(c, { label: c, clusterLabelPos: "top", paddingTop: 18 });
  for (const n of shape.nodes) {
    const label = nodeLabel(n);
    g.setNode(n.id, { label, width: width(label), height: 34, node: n });
    if (n.parent) g.setParent(n.id, n.parent);
  }
  for (const c of clusters) {
    const i = c.lastIndexOf(":");
    if (i > 0) g.setParent(c, c.slice(0, i));
  }
  shape.edges.forEach((e, i) => {
    if (g.hasNode(e.source) && g.hasNode(e.target)) g.setEdge(e.source, e.target, { edge: e }, `e${i}`);
  });
  dagre.layout(g);

  const info = g.graph();
  const w = Math.max(120, Math.ceil(info.width || 0));
  const h = Math.max(60, Math.ceil(info.height || 0));
  const svg = svgEl("svg", { class: "lgp-graph", width: w, height: h, viewBox: `0 0 ${w} ${h}` });
  const defs = svgEl("defs", {}, svg);
  const marker = svgEl("marker", {
    id: "lgp-arrowhead", viewBox: "0 0 10 10", refX: 9, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse",
  }, defs);
  svgEl("path", { d: "M0,0L10,5L0,10z", class: "lgp-arrow" }, marker);

  const nodeEls = new Map();
  for (const c of clusters) {
    const box = g.node(c);
    const grp = svgEl("g", { class: "lgp-cluster", "data-node": c }, svg);
    svgEl("rect", {
      x: box.x - box.width / 2, y: box.y - box.height / 2, width: box.width, height: box.height, rx: 8,
    }, grp);
    const t = svgEl("text", { x: box.x - box.width / 2 + 8, y: box.y - box.height / 2 + 13 }, grp);
    t.textContent = c.split(":").pop();
    nodeEls.set(c, grp);
  }
  for (const ref of g.edges()) {
    const data = g.edge(ref);
    const pts = data.points || [];
    if (!pts.length) continue;
    const d = pts.map((p, i) => `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join("");
    const cls = data.edge.conditional ? "lgp-edge lgp-conditional" : "lgp-edge";
    const path = svgEl("path", { d, class: cls, "marker-end": "url(#lgp-arrowhead)" }, svg);
    path.dataset.source = data.edge.source;
    path.dataset.target = data.edge.target;
  }
  for (const id of g.nodes()) {
    const box = g.node(id);
    if (!box || !box.node) continue;
    const n = box.node;
    const marks = [];
    if (n.interrupt_before) marks.push("lgp-int-before");
    if (n.interrupt_after) marks.push("lgp-int-after");
    const grp = svgEl("g", {
      class: `lgp-node lgp-kind-${n.kind} ${marks.join(" ")}`,
      "data-node": n.id,
      transform: `translate(${(box.x - box.width / 2).toFixed(1)},${(box.y - box.height / 2).toFixed(1)})`,
    }, svg);
    const rx = n.kind === "node" ? 6 : 17;
    svgEl("rect", { width: box.width, height: box.height, rx }, grp);
    const text = svgEl("text", { x: box.width / 2, y: 21, "text-anchor": "middle" }, grp);
    text.textContent = box.label;
    if (n.interrupt_before || n.interrupt_after) {
      const where = [n.interrupt_before && "before", n.interrupt_after && "after"].filter(Boolean);
      // A pause sign drawn as two bars (no font needed); left bars: before, right: after.
      const at = n.interrupt_before ? 4 : box.width - 12;
      for (const dx of [0, 5]) svgEl("rect", { x: at + dx, y: 4, width: 3, height: 9, class: "lgp-int-mark" }, grp);
      const title = svgEl("title", {}, grp);
      title.textContent = `interrupt ${where.join(" and ")} ${n.name}`;
    }
    const badge = svgEl("text", { x: box.width / 2, y: box.height + 11, "text-anchor": "middle", class: "lgp-badge" }, grp);
    badge.textContent = "";
    if (onNodeClick) grp.addEventListener("click", () => onNodeClick(n));
    nodeEls.set(n.id, grp);
  }
  return { svg, nodeEls };
}

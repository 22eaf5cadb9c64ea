// A collapsible JSON tree. The kernel sends a preview cut to a size a page draws at
// once; {"__lgp_more__": {...}} markers become "show more" buttons (see
// lgp_lab/widgets/_studio_json.py) that ask the kernel for the rest of one subtree.
const MORE = "__lgp_more__";

function h(tag, cls, text) {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  if (text !== undefined) el.textContent = text;
  return el;
}

function isMarker(v) {
  return v && typeof v === "object" && !Array.isArray(v) && MORE in v && Object.keys(v).length === 1;
}

function moreButton(info, onMore, label) {
  const b = h("button", "lgp-more", label);
  b.type = "button";
  b.addEventListener("click", () => onMore(info.path));
  return b;
}

function scalar(v) {
  if (v === null) return h("span", "lgp-null", "null");
  if (typeof v === "string") return h("span", "lgp-str", JSON.stringify(v));
  if (typeof v === "number") return h("span", "lgp-num", String(v));
  if (typeof v === "boolean") return h("span", "lgp-bool", String(v));
  return h("span", "", String(v));
}

function value(v, onMore, depth) {
  if (isMarker(v)) {
    const info = v[MORE];
    if (info.kind === "string") {
      const span = h("span", "lgp-str", JSON.stringify(info.head).slice(0, -1) + "…");
      const wrap = h("span");
      wrap.append(span, " ", moreButton(info, onMore, `show more (${info.length.toLocaleString()} chars)`));
      return wrap;
    }
    return moreButton(info, onMore, `show ${info.size} more…`);
  }
  if (v === null || typeof v !== "object") return scalar(v);
  const isList = Array.isArray(v);
  const entries = isList ? v.map((x, i) => [i, x]) : Object.entries(v);
  const details = h("details", "lgp-tree");
  details.open = depth < 2;
  const count = entries.filter(([k, x]) => !(k === MORE || isMarker(x) && x[MORE].kind !== "string")).length;
  details.append(h("summary", "lgp-summary", isList ? `[${count}${count === 1 ? " item" : " items"}]` : `{${count} keys}`));
  const body = h("div", "lgp-tree-body");
  for (const [k, x] of entries) {
    if (k === MORE || (isList && isMarker(x) && x[MORE].kind === "items")) {
      const info = k === MORE ? x : x[MORE];
      body.append(h("div", "lgp-row")).append(moreButton(info, onMore, `show ${info.count} more…`));
      continue;
    }
    const row = h("div", "lgp-row");
    row.append(h("span", "lgp-key", isList ? `${k}: ` : `${k}: `), value(x, onMore, depth + 1));
    body.append(row);
  }
  details.append(body);
  return details;
}

/** Render a preview tree; `onMore(path)` asks for more at `path`. */
export function jsonTree(v, onMore) {
  const root = h("div", "lgp-json");
  root.append(value(v, onMore, 0));
  return root;
}

/** Whether a preview holds no cut (so it can be edited as the full value). */
export function isComplete(v) {
  if (v === null || typeof v !== "object") return true;
  if (isMarker(v)) return false;
  if (!Array.isArray(v) && MORE in v) return false;
  return Object.values(v).every(isComplete);
}

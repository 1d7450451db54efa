// A small offline renderer of /openapi.json (FastAPI's Swagger UI would load from a CDN).
"use strict";
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

fetch("/openapi.json").then((r) => r.json()).then((spec) => {
  const root = document.getElementById("api");
  root.replaceChildren(el("h2", "", `${spec.info.title} ${spec.info.version}`), el("p", "small", spec.info.description || ""));
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const box = el("section", "endpoint");
      box.append(el("h3", "", `${method.toUpperCase()} ${path}`), el("p", "", op.summary || ""));
      if (op.description) box.append(el("p", "small", op.description));
      for (const p of op.parameters || []) {
        box.append(el("p", "small", `${p.in} parameter ${p.name}${p.required ? " (required)" : ""}: ${(p.schema && p.description) || p.description || ""}`));
      }
      if (op.requestBody) {
        box.append(el("p", "small", "body: " + Object.keys(op.requestBody.content).join(", ") + (op.requestBody.description ? " — " + op.requestBody.description : "")));
      }
      box.append(el("p", "small", "responses: " + Object.keys(op.responses).join(", ")));
      root.append(box);
    }
  }
}).catch((err) => {
  document.getElementById("api").textContent = "could not load /openapi.json: " + err;
});

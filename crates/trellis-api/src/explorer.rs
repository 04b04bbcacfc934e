//! An interactive GraphQL explorer served at `GET /graphql`.
//!
//! Hand-written and self-contained: no script or style from a CDN, so it works on an NHS network or a
//! laptop with no internet access (the stock GraphiQL page renders blank there). It reads the schema by
//! introspection, lists every query and mutation with its arguments, and runs operations with the
//! bearer token the user pastes in.
//!
//! Off unless switched on (`--demo` does). It has a policy of its own: only its own inline script and
//! style run, marked with a nonce fresh for each response, and it may talk to Trellis only.

use axum::extract::State;
use axum::http::header::CONTENT_SECURITY_POLICY;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use rand::RngCore;

use crate::AppState;

/// `GET /graphql`: the explorer, unless switched off.
pub async fn page(State(state): State<AppState>) -> Response {
    if !state.settings.explorer {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let nonce = hex::encode(bytes);
    let page = PAGE.replacen("<script>", &format!("<script nonce=\"{nonce}\">"), 1).replacen(
        "<style>",
        &format!("<style nonce=\"{nonce}\">"),
        1,
    );
    let mut response = Html(page).into_response();
    if let Ok(policy) = HeaderValue::from_str(&policy(&nonce)) {
        response.headers_mut().insert(CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// The explorer's policy: its own script and style (by `nonce`), requests to Trellis only, no framing.
pub fn policy(nonce: &str) -> String {
    format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; connect-src 'self'; \
         img-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Trellis GraphQL explorer</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 0; color: #1d1d1d; background: #f6f6f4; }
  header { background: #005eb8; color: #fff; padding: .6rem 1rem; display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; }
  header h1 { font-size: 1.1rem; margin: 0; }
  header label { font-size: .9rem; }
  header input { width: 28rem; max-width: 90vw; font-family: monospace; }
  main { display: grid; grid-template-columns: 18rem 1fr 1fr; gap: .75rem; padding: .75rem; height: calc(100vh - 4rem); box-sizing: border-box; }
  @media (max-width: 60rem) { main { grid-template-columns: 1fr; height: auto; } }
  section { display: flex; flex-direction: column; min-height: 0; }
  h2 { font-size: .95rem; margin: .2rem 0 .4rem; }
  textarea, pre { font-family: ui-monospace, monospace; font-size: .85rem; border: 1px solid #aaa; border-radius: 4px; padding: .5rem; background: #fff; }
  #query { flex: 3; min-height: 12rem; } #variables { flex: 1; min-height: 5rem; }
  pre { flex: 1; overflow: auto; margin: 0; white-space: pre-wrap; }
  #docs { overflow: auto; background: #fff; border: 1px solid #aaa; border-radius: 4px; padding: .5rem; flex: 1; }
  #docs button { display: block; width: 100%; text-align: left; background: none; border: 0; padding: .2rem; cursor: pointer; font-family: monospace; font-size: .8rem; }
  #docs button:hover, #docs button:focus { background: #e8f1fa; outline: 2px solid #005eb8; }
  .run { margin: .4rem 0; padding: .45rem 1rem; background: #007f3b; color: #fff; border: 0; border-radius: 4px; font-weight: bold; cursor: pointer; }
  .run:focus { outline: 3px solid #ffeb3b; }
</style>
</head>
<body>
<header>
  <h1>Trellis GraphQL explorer</h1>
  <label for="token">Bearer token</label>
  <input id="token" type="password" autocomplete="off" placeholder="trellis_…">
</header>
<main>
  <section aria-labelledby="docs-title">
    <h2 id="docs-title">Operations</h2>
    <div id="docs">Loading schema…</div>
  </section>
  <section>
    <h2><label for="query">Operation</label></h2>
    <textarea id="query" spellcheck="false">query Me {
  me { user { name role } organisation { name kind } }
}</textarea>
    <h2><label for="variables">Variables (JSON)</label></h2>
    <textarea id="variables" spellcheck="false">{}</textarea>
    <button class="run" id="run" type="button">Run (Ctrl+Enter)</button>
  </section>
  <section>
    <h2 id="result-title">Result</h2>
    <pre id="result" aria-labelledby="result-title" aria-live="polite"></pre>
  </section>
</main>
<script>
const $ = (id) => document.getElementById(id);
$("token").value = sessionStorage.getItem("trellis-token") || "";
$("token").addEventListener("change", () => sessionStorage.setItem("trellis-token", $("token").value));

async function call(query, variables) {
  const headers = { "content-type": "application/json" };
  const token = $("token").value.trim();
  if (token) headers.authorization = "Bearer " + token;
  const res = await fetch("/graphql", { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  return res.json();
}

async function run() {
  let variables = {};
  try { variables = JSON.parse($("variables").value || "{}"); }
  catch (e) { $("result").textContent = "Variables are not valid JSON: " + e.message; return; }
  $("result").textContent = "…";
  try { $("result").textContent = JSON.stringify(await call($("query").value, variables), null, 2); }
  catch (e) { $("result").textContent = "Request failed: " + e.message; }
}
$("run").addEventListener("click", run);
document.addEventListener("keydown", (e) => { if (e.ctrlKey && e.key === "Enter") run(); });

const typeName = (t) => t.kind === "NON_NULL" ? typeName(t.ofType) + "!" : t.kind === "LIST" ? "[" + typeName(t.ofType) + "]" : t.name;
async function loadDocs() {
  const q = `{ __schema { queryType { fields { name description args { name type { ...T } } } }
    mutationType { fields { name description args { name type { ...T } } } } } }
    fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }`;
  const r = await call(q, {});
  const docs = $("docs");
  if (!r.data) { docs.textContent = "Introspection is switched off on this server."; return; }
  docs.textContent = "";
  for (const [kind, root] of [["query", r.data.__schema.queryType], ["mutation", r.data.__schema.mutationType]]) {
    const h = document.createElement("h2"); h.textContent = kind === "query" ? "Queries" : "Mutations"; docs.append(h);
    for (const f of root.fields) {
      const b = document.createElement("button"); b.type = "button";
      b.textContent = f.name + (f.args.length ? "(" + f.args.map(a => a.name + ": " + typeName(a.type)).join(", ") + ")" : "");
      b.title = f.description || "";
      b.addEventListener("click", () => {
        const vars = f.args.map(a => "$" + a.name + ": " + typeName(a.type)).join(", ");
        const args = f.args.map(a => a.name + ": $" + a.name).join(", ");
        $("query").value = `${kind} ${f.name[0].toUpperCase() + f.name.slice(1)}${vars ? "(" + vars + ")" : ""} {\n  ${f.name}${args ? "(" + args + ")" : ""} {\n    __typename\n  }\n}`;
        $("query").focus();
      });
      docs.append(b);
    }
  }
}
loadDocs();
</script>
</body>
</html>
"#;

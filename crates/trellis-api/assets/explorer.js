// Starts GraphiQL on the explorer page (crates/trellis-api/src/explorer.rs). A file of its own rather
// than an inline script, so the page's policy allows no inline code at all.
"use strict";

// GraphiQL's dialogs add a <style> element; they give it the nonce found here, which the page's
// policy asks of every style sheet.
window.__webpack_nonce__ = document.currentScript.nonce;

// The explorer asks for the schema with whatever headers the person has typed, so the headers start
// empty: an empty bearer token would be refused as unknown, while no token may still introspect.
const DEFAULT_QUERY = `# Welcome to the Trellis GraphQL explorer.
#
# Paste your bearer token in the Headers tab below, as
#   { "Authorization": "Bearer trellis_…" }
# then run a query with Ctrl-Enter. Ctrl-Space completes; the book icon opens the schema's documentation.

query Me {
  me {
    user { name role }
    organisation { name kind }
  }
}
`;

// GraphiQL 3.9's editors are CodeMirror 5, whose hidden <textarea> has no name (axe-core's label rule)
// and whose long lines scroll sideways in a region no key reaches (scrollable-region-focusable). Each
// editor is named after its place, wraps its lines, and the response, which only scrolls, takes focus.
function nameEditors() {
  const named = [
    [".graphiql-query-editor .CodeMirror", ["Query editor"]],
    [".graphiql-editor-tool .CodeMirror", ["Variables editor", "Headers editor"]],
    [".graphiql-response .CodeMirror", ["Response"]],
  ];
  for (const [selector, names] of named) {
    document.querySelectorAll(selector).forEach((editor, i) => {
      const input = editor.querySelector("textarea");
      if (!input || input.hasAttribute("aria-label")) return;
      input.setAttribute("aria-label", names[i] ?? names[0]);
      editor.CodeMirror?.setOption("lineWrapping", true);
      if (input.readOnly) {
        editor.querySelector(".CodeMirror-scroll")?.setAttribute("tabindex", "0");
      }
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  new MutationObserver(nameEditors).observe(document.body, { childList: true, subtree: true });
  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: GraphiQL.createFetcher({ url: "/graphql" }),
      defaultQuery: DEFAULT_QUERY,
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      // A bearer token must not outlive the tab in the browser's storage.
      shouldPersistHeaders: false,
    }),
  );
});

//! Running the project's Node scripts (third-party GraphQL clients, graphql-js, a headless browser).

use std::process::Command;

/// Runs `node tests/js/<script> <args>` and returns its standard output, failing the test with its
/// output if it exits non-zero. The npm packages are installed by `scripts/ensure-prereqs`.
pub fn run_node(script: &str, args: &[&str]) -> String {
    let js = crate::repo_root().join("tests").join("js");
    assert!(
        js.join("node_modules").exists(),
        "tests/js/node_modules is missing: run scripts/ensure-prereqs (or `npm ci` in tests/js)"
    );
    let output = Command::new("node")
        .arg(js.join(script))
        .args(args)
        .current_dir(&js)
        .output()
        .unwrap_or_else(|e| panic!("cannot run node (is Node.js installed?): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "node {script} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

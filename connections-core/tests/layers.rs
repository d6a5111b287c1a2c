//! The core's modules form layers: no module imports one that imports it back,
//! the bottom ones import nothing from the crate, every file says what it is
//! in its first line, and none is longer than 1000 lines.
//!
//! Read from the sources: `crate::<module>` references outside comments, with
//! a folder module (`registry/`, `doctor/`) counted as one. `lib.rs` and the
//! derive's `__private` sit on top of everything and are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file belongs to: its folder's name for files in a folder.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_str().unwrap();
    first.trim_end_matches(".rs").to_owned()
}

/// Code without comments and without a file's unit-test module: the lines
/// from a `#[cfg(...test...)]` attribute directly above a `mod` onwards.
fn code(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .windows(2)
        .position(|pair| pair[0].starts_with("#[cfg(") && pair[0].contains("test") && pair[1].starts_with("mod "))
        .unwrap_or(lines.len());
    lines[..end]
        .iter()
        .map(|line| line.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

fn imports(code: &str) -> BTreeSet<String> {
    code.match_indices("crate::")
        .filter_map(|(i, _)| {
            let rest = &code[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            // `crate::Error` and other items re-exported at the root name no module.
            (!name.is_empty() && rest[name.len()..].starts_with("::")).then_some(name)
        })
        .collect()
}

/// Each module and the modules it imports.
type Graph = BTreeMap<String, BTreeSet<String>>;

fn graph() -> (Graph, Vec<(PathBuf, String)>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut graph = Graph::new();
    let mut texts = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        let module = module_of(&src, &file);
        let deps = graph.entry(module.clone()).or_default();
        for dep in imports(&code(&text)) {
            let dep = if dep == "__private" { "private".to_owned() } else { dep };
            if dep != module {
                deps.insert(dep);
            }
        }
        texts.push((file, text));
    }
    graph.remove("lib");
    graph.remove("private");
    (graph, texts)
}

// Depth-first search for a cycle, reporting the first one found.
fn visit(node: &str, graph: &Graph, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
    if let Some(at) = path.iter().position(|n| n == node) {
        let mut cycle = path[at..].to_vec();
        cycle.push(node.to_owned());
        return Some(cycle);
    }
    if done.contains(node) {
        return None;
    }
    path.push(node.to_owned());
    for dep in graph.get(node).into_iter().flatten() {
        if let Some(cycle) = visit(dep, graph, path, done) {
            return Some(cycle);
        }
    }
    path.pop();
    done.insert(node.to_owned());
    None
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let (graph, _) = graph();
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, &graph, &mut Vec::new(), &mut done) {
            panic!("modules import each other in a circle: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn the_bottom_modules_import_nothing_from_the_crate() {
    let (graph, _) = graph();
    for bottom in ["cell", "instance", "origin", "redact", "secret"] {
        let deps = &graph[bottom];
        assert!(
            deps.is_empty(),
            "`{bottom}` should import nothing from the crate, imports {deps:?}"
        );
    }
    // The connection's state machine sits on the cell and the helpers beside it, never on what is built above it.
    for (lower, higher) in [
        ("trace", "base"),
        ("close", "base"),
        ("base", "connection"),
        ("connection", "cache"),
        ("cache", "handle"),
        ("handle", "registry"),
    ] {
        assert!(
            !graph[lower].contains(higher),
            "`{lower}` imports `{higher}`, which sits above it"
        );
    }
}

#[test]
fn every_file_says_what_it_is_and_none_is_over_1000_lines() {
    let (_, texts) = graph();
    for (file, text) in texts {
        let first = text.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("//! ") && first.len() > 12,
            "{}: the first line should be a `//!` line saying what the module is, found {first:?}",
            file.display()
        );
        let lines = text.lines().count();
        assert!(lines <= 1000, "{}: {lines} lines, over 1000", file.display());
    }
}

/// The first-party connection crates: `connections-sql`, and every
/// `connections-*` crate of the workspace but the core, the derive, the
/// command and the test crates.
fn first_party_crates() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut names: Vec<String> = fs::read_dir(root)
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("connections-") && root.join(name).join("Cargo.toml").is_file())
        .filter(|name| {
            ![
                "connections-core",
                "connections-derive",
                "connections-cli",
                "connections-tests",
                "connections-ui",
            ]
            .contains(&name.as_str())
        })
        .collect();
    names.sort();
    names
}

#[test]
fn the_core_names_no_first_party_crate() {
    let crates = first_party_crates();
    assert!(crates.contains(&"connections-sql".to_owned()), "found {crates:?}");
    let manifest = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let (_, texts) = graph();
    for krate in &crates {
        let ident = krate.replace('-', "_");
        assert!(
            !manifest.contains(krate.as_str()),
            "connections-core's Cargo.toml names `{krate}`"
        );
        for (file, text) in &texts {
            assert!(
                !text.contains(krate.as_str()) && !text.contains(&ident),
                "{} names the first-party crate `{krate}`: the core must not know it",
                file.display()
            );
        }
    }
    // Nor their drivers, nor a feature that builds one.
    for (file, text) in &texts {
        let code = code(text);
        for banned in ["sqlx", "feature = \"sql\"", "feature=\"sql\""] {
            assert!(
                !code.contains(banned),
                "{} names `{banned}` in its code",
                file.display()
            );
        }
    }
    assert!(!manifest.contains("sqlx"), "connections-core's Cargo.toml names sqlx");
}

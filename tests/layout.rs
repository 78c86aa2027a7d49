//! The folder tree is the layering: the sans-IO core and the crypto layer use no runtime or HTTP client,
//! and no source file outside `src/client/` is part of an import cycle. Read from the sources, so a
//! change that breaks the layering fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file, its test module included (a test that reaches back up makes a cycle too); comments
/// left out.
fn code(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `src/a/b.rs` → `a::b`, `src/a/mod.rs` → `a`.
fn module_of(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts.join("::")
}

/// The public re-exports of `lib.rs`, so `crate::keys` resolves to `crypto::keys`.
const ALIASES: [(&str, &str); 13] = [
    ("formatter", "protocol::formatter"),
    ("path", "protocol::path"),
    ("template", "protocol::template"),
    ("sign", "protocol::sign"),
    ("verify", "protocol::verify"),
    ("keys", "crypto::keys"),
    ("keyring", "crypto::keyring"),
    ("aes", "crypto::aes"),
    ("hash", "crypto::hash"),
    ("apiv2", "php::apiv2"),
    ("observe", "client::observe"),
    ("Client", "client"),
    ("Error", "error"),
];

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    files.retain(|f| !f.starts_with(root.join("bin")) && !f.starts_with(root.join("mock")));
    let modules: BTreeMap<String, PathBuf> = files.iter().map(|f| (module_of(&root, f), f.clone())).collect();
    let mut edges = BTreeMap::new();
    for (module, file) in &modules {
        let text = code(file);
        let mut deps = BTreeSet::new();
        for (i, _) in text.match_indices("crate::") {
            let rest = &text[i + "crate::".len()..];
            let path: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let mut parts: Vec<String> = path.split("::").filter(|p| !p.is_empty()).map(str::to_owned).collect();
            if let Some((_, to)) = ALIASES
                .iter()
                .find(|(from, _)| parts.first().is_some_and(|p| p == from))
            {
                parts.splice(0..1, to.split("::").map(str::to_owned));
            }
            let target = (1..=parts.len())
                .rev()
                .map(|n| parts[..n].join("::"))
                .find(|m| modules.contains_key(m));
            if let Some(target) = target.filter(|t| t != module) {
                deps.insert(target);
            }
        }
        edges.insert(module.clone(), deps);
    }
    edges
}

/// Modules that reach themselves again through others.
fn in_cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> BTreeSet<String> {
    let reach = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&String> = edges[from].iter().collect();
        while let Some(m) = todo.pop() {
            if seen.insert(m.clone()) {
                todo.extend(edges.get(m).into_iter().flatten());
            }
        }
        seen
    };
    edges.keys().filter(|m| reach(m).contains(*m)).cloned().collect()
}

#[test]
fn no_import_cycle_outside_the_client() {
    let edges = graph();
    assert!(edges.contains_key("protocol::request") && edges.contains_key("client::pipeline"));
    let cyclic: Vec<String> = in_cycles(&edges)
        .into_iter()
        .filter(|m| m != "client" && !m.starts_with("client::"))
        .collect();
    assert!(cyclic.is_empty(), "modules in an import cycle: {cyclic:?}");
    // The features sit on the client's public face, never the other way round.
    for feature in ["certificates", "notify", "media", "paysign"] {
        let users: Vec<&String> = edges
            .iter()
            .filter(|(m, deps)| (m.as_str() == "client" || m.starts_with("client::")) && deps.contains(feature))
            .map(|(m, _)| m)
            .collect();
        assert!(users.is_empty(), "the client uses the feature `{feature}`: {users:?}");
    }
}

#[test]
fn the_core_and_crypto_use_no_runtime_or_http_client() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for layer in ["protocol", "crypto", "php"] {
        let mut files = Vec::new();
        sources(&root.join(layer), &mut files);
        assert!(!files.is_empty());
        for file in files {
            let text = code(&file);
            for forbidden in ["tokio", "reqwest", "hyper"] {
                assert!(!text.contains(forbidden), "{} uses {forbidden}", file.display());
            }
            assert!(
                !text.contains("crate::client"),
                "{} reaches up into the client",
                file.display()
            );
        }
    }
}

//! Tidy: rules we enforce mechanically over the source tree (after rust-analyzer's tidy test).

use std::path::{Path, PathBuf};

use kplay_tests::root;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(name.as_str(), "target" | "node_modules" | "dist" | ".git") {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

fn sources() -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    for dir in ["crates", "tests", "web", "xtask"] {
        rust_files(&root().join(dir), &mut files);
    }
    files.sort();
    files
        .into_iter()
        .map(|p| (p.clone(), std::fs::read_to_string(&p).expect("read")))
        .collect()
}

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    // Binaries' and benches' `main.rs` included: say what the file owns.
    let missing: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| !text.trim_start().starts_with("//!"))
        .map(|(p, _)| p.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a `//!` doc:\n{}",
        missing.join("\n")
    );
}

#[test]
fn no_ignored_or_should_panic_tests_no_dbg_no_fixme() {
    // Built from pieces so this file does not match itself.
    let banned = [
        ["#[", "ignore"].concat(),
        ["#[", "should_panic"].concat(),
        ["dbg", "!("].concat(),
        ["FIX", "ME"].concat(),
    ];
    let mut hits = Vec::new();
    for (path, text) in sources() {
        for (n, line) in text.lines().enumerate() {
            if let Some(b) = banned.iter().find(|b| line.contains(b.as_str())) {
                hits.push(format!("{}:{}: {b}", path.display(), n + 1));
            }
            if line.ends_with(' ') || line.ends_with('\t') {
                hits.push(format!("{}:{}: trailing whitespace", path.display(), n + 1));
            }
        }
    }
    assert!(hits.is_empty(), "{}", hits.join("\n"));
}

#[test]
fn the_engine_stays_deterministic_and_std_only() {
    let engine = root().join("crates/engine");
    let manifest = std::fs::read_to_string(engine.join("Cargo.toml")).expect("manifest");
    let deps = manifest.split("[dependencies]").nth(1).unwrap_or("");
    let deps = deps.split("\n[").next().unwrap_or("");
    assert!(
        deps.trim().is_empty(),
        "the engine depends on std only, found:\n{deps}"
    );
    let banned = [
        ["Hash", "Map"].concat(),
        ["Hash", "Set"].concat(),
        ["std::", "time"].concat(),
        ["System", "Time"].concat(),
        ["thread", "_rng"].concat(),
        ["f", "32"].concat(),
        ["f", "64"].concat(),
    ];
    let mut files = Vec::new();
    rust_files(&engine.join("src"), &mut files);
    let mut hits = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("read");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for b in &banned {
                let is_word = code.match_indices(b.as_str()).any(|(i, _)| {
                    let before = code[..i].chars().last();
                    let after = code[i + b.len()..].chars().next();
                    !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                        && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
                });
                if is_word {
                    hits.push(format!("{}:{}: {b}", path.display(), n + 1));
                }
            }
        }
    }
    assert!(
        hits.is_empty(),
        "nondeterminism risks in the engine:\n{}",
        hits.join("\n")
    );
}

#[test]
fn unsafe_code_is_only_in_the_counting_allocators() {
    // The workspace denies `unsafe_code`; a counting `GlobalAlloc` (the memory budget's
    // measure) cannot be written without it. Anything else that wants it needs a review.
    const ALLOWED: &[&str] = &["crates/cli/src/memory.rs", "web/src/memory.rs"];
    let needle = ["allow(", "unsafe_code)"].concat();
    let found: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| text.contains(&needle))
        .map(|(p, _)| {
            p.strip_prefix(root())
                .expect("under the root")
                .to_string_lossy()
                .replace('\\', "/")
        })
        .filter(|p| !ALLOWED.contains(&p.as_str()))
        .collect();
    assert!(
        found.is_empty(),
        "unsafe code outside the allocators: {found:?}"
    );
}

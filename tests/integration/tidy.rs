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
fn the_page_sorts_through_one_instantiation() {
    // Each `sort_by` (or `collect` into a BTreeMap/BTreeSet) compiles its own ~4 KB copy of the
    // standard sort into the wasm; `kplay_engine::sort` has the one copy. Tests may sort freely.
    let banned = [".sort()", ".sort_by(", ".sort_by_key(", ".sort_unstable"];
    let mut hits = Vec::new();
    for (path, text) in sources() {
        let rel = relative(&path);
        let shipped = [
            "crates/engine/",
            "crates/scenario/",
            "crates/playground/",
            "web/src/",
        ];
        if !shipped.iter().any(|d| rel.starts_with(d)) || rel.ends_with("engine/src/sort.rs") {
            continue;
        }
        if rel.contains("/tests") || rel.contains("/benches/") || rel.ends_with("_tests.rs") {
            continue;
        }
        // Code after the first `#[cfg(test)]` is the file's test module.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (n, line) in code.lines().enumerate() {
            if let Some(b) = banned.iter().find(|b| line.contains(*b)) {
                hits.push(format!("{rel}:{}: {b} (use kplay_engine::sort)", n + 1));
            }
        }
    }
    assert!(hits.is_empty(), "{}", hits.join("\n"));
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

/// The functions of a source: (name, first line, length in lines), found by their `fn` line
/// and the closing brace at the same indent (rustfmt's layout makes that exact).
fn functions(text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let mut rest = trimmed;
        for prefix in [
            "pub(crate) ",
            "pub(super) ",
            "pub ",
            "const ",
            "async ",
            "unsafe ",
        ] {
            rest = rest.strip_prefix(prefix).unwrap_or(rest);
        }
        let Some(sig) = rest.strip_prefix("fn ") else {
            continue;
        };
        let name: String = sig
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            continue;
        }
        // The body opens on the first line from here that ends with `{`; a declaration
        // without a body ends with `;` first.
        let Some(open) = (i..lines.len()).find(|&j| {
            let l = lines[j].trim_end();
            l.ends_with('{') || l.ends_with(';') || (j > i && l.ends_with('}'))
        }) else {
            continue;
        };
        let l = lines[open].trim_end();
        if !l.ends_with('{') {
            if l.ends_with('}') {
                out.push((name, i + 1, open - i + 1));
            }
            continue;
        }
        let close = format!("{}}}", " ".repeat(indent));
        if let Some(end) = (open + 1..lines.len()).find(|&j| lines[j].trim_end() == close) {
            out.push((name, i + 1, end - i + 1));
        }
    }
    out
}

/// Longest a function may grow without a reason written beside it.
const LONG_FUNCTION: usize = 70;
/// rustfmt's width.
const COLUMNS: usize = 100;

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .expect("under the root")
        .to_string_lossy()
        .replace('\\', "/")
}

/// A ratchet file: one entry per line, `#` starts a comment (the reason).
fn ratchet(name: &str) -> (PathBuf, Vec<String>) {
    let path = root().join("tests").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let entries = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    (path, entries)
}

/// No new function over 70 lines without a reason written beside it in
/// `tests/long-functions.txt`, and the list only shrinks: a listed function may not grow, and
/// one that got shorter or went away must leave the list (`UPDATE_TIDY=1` rewrites it, keeping
/// the reasons).
#[test]
fn no_function_grows_past_seventy_lines_without_a_reason() {
    let (path, listed) = ratchet("long-functions.txt");
    let listed: std::collections::BTreeMap<(String, String), usize> = listed
        .iter()
        .filter_map(|e| {
            let mut f = e.split_whitespace();
            let (file, name, len) = (f.next()?, f.next()?, f.next()?.parse().ok()?);
            Some(((file.to_string(), name.to_string()), len))
        })
        .collect();
    let mut found: std::collections::BTreeMap<(String, String), usize> = Default::default();
    for (file, text) in sources() {
        for (name, _, len) in functions(&text) {
            if len > LONG_FUNCTION {
                let e = found.entry((relative(&file), name)).or_insert(0);
                *e = (*e).max(len);
            }
        }
    }
    if std::env::var_os("UPDATE_TIDY").is_some() {
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        let reason = |file: &str, name: &str| {
            old.lines()
                .find(|l| {
                    let mut f = l.split_whitespace();
                    f.next() == Some(file) && f.next() == Some(name)
                })
                .and_then(|l| l.split_once('#'))
                .map_or("predates the ratchet (issue #13)".to_string(), |(_, r)| {
                    r.trim().to_string()
                })
        };
        let mut text = String::from(
            "# Functions over 70 lines: file, function, length, and why (the list only shrinks).\n",
        );
        for ((file, name), len) in &found {
            text += &format!("{file} {name} {len} # {}\n", reason(file, name));
        }
        std::fs::write(&path, text).expect("write the list");
        return;
    }
    let mut wrong = Vec::new();
    for (key, len) in &found {
        match listed.get(key) {
            None => wrong.push(format!(
                "{} {}: {len} lines; split it, or write why beside it in tests/long-functions.txt",
                key.0, key.1
            )),
            Some(&was) if *len > was => wrong.push(format!(
                "{} {}: grew from {was} to {len} lines",
                key.0, key.1
            )),
            _ => {}
        }
    }
    for (key, was) in &listed {
        if found.get(key).is_none_or(|len| len < was) {
            wrong.push(format!(
                "{} {}: now under {was} lines; lower or remove its entry (UPDATE_TIDY=1)",
                key.0, key.1
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "tests/long-functions.txt:\n{}",
        wrong.join("\n")
    );
}

/// Lines stay within 100 columns: a file may not gain lines past them, and the counts in
/// `tests/long-lines.txt` (of the files that had them) only go down (`UPDATE_TIDY=1` rewrites).
#[test]
fn no_file_gains_lines_past_a_hundred_columns() {
    let (path, listed) = ratchet("long-lines.txt");
    let listed: std::collections::BTreeMap<String, usize> = listed
        .iter()
        .filter_map(|e| {
            let (file, count) = e.split_once(' ')?;
            Some((file.to_string(), count.trim().parse().ok()?))
        })
        .collect();
    let mut found = std::collections::BTreeMap::new();
    for (file, text) in sources() {
        let long = text.lines().filter(|l| l.chars().count() > COLUMNS).count();
        if long > 0 {
            found.insert(relative(&file), long);
        }
    }
    if std::env::var_os("UPDATE_TIDY").is_some() {
        let mut text =
            String::from("# Lines past 100 columns, per file (the counts only go down).\n");
        for (file, n) in &found {
            text += &format!("{file} {n}\n");
        }
        std::fs::write(&path, text).expect("write the list");
        return;
    }
    let mut wrong = Vec::new();
    for (file, n) in &found {
        let was = listed.get(file).copied().unwrap_or(0);
        if *n > was {
            wrong.push(format!(
                "{file}: {n} lines past {COLUMNS} columns (was {was})"
            ));
        }
    }
    for (file, was) in &listed {
        let n = found.get(file).copied().unwrap_or(0);
        if n < *was {
            wrong.push(format!(
                "{file}: {n} long lines now, {was} listed; lower it (UPDATE_TIDY=1)"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "tests/long-lines.txt:\n{}",
        wrong.join("\n")
    );
}

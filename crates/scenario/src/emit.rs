//! A `toml::Table` written back as TOML text, for the setting paths and the lessons' comparison
//! of two setups. Small on purpose: `toml`'s own serializer is tens of kilobytes of wasm that
//! the page would carry for these two uses only (`Scenario::to_toml` writes the scenario format
//! itself). It writes what a scenario table holds: scalars, arrays, inline and nested tables,
//! arrays of tables; the parser reads it back to the same table.

use std::fmt::Write;

use toml::{Table, Value};

/// `table` as a TOML document: its plain keys first, then its tables, then its arrays of
/// tables, each in key order.
pub fn table(table: &Table) -> String {
    let mut out = String::new();
    write_table(&mut out, &[], table);
    out
}

/// One value as it is written after `key = `.
pub fn value(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v);
    out
}

fn is_table_array(v: &Value) -> bool {
    matches!(v, Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_table))
}

fn write_table(out: &mut String, path: &[&str], table: &Table) {
    for (k, v) in table {
        if !v.is_table() && !is_table_array(v) {
            let _ = writeln!(out, "{} = {}", key(k), value(v));
        }
    }
    for (k, v) in table {
        let mut at = path.to_vec();
        at.push(k);
        let header = at.iter().map(|k| key(k)).collect::<Vec<_>>().join(".");
        match v {
            Value::Table(t) => {
                let _ = writeln!(out, "\n[{header}]");
                write_table(out, &at, t);
            }
            Value::Array(items) if is_table_array(v) => {
                for item in items.iter().filter_map(Value::as_table) {
                    let _ = writeln!(out, "\n[[{header}]]");
                    write_table(out, &at, item);
                }
            }
            _ => {}
        }
    }
}

fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::String(s) => string(out, s),
        Value::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => {
            let _ = write!(out, "{f:?}");
        }
        Value::Boolean(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Datetime(d) => {
            let _ = write!(out, "{d}");
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Table(t) => {
            out.push('{');
            for (i, (k, item)) in t.iter().enumerate() {
                out.push_str(if i > 0 { ", " } else { " " });
                let _ = write!(out, "{} = ", key(k));
                write_value(out, item);
            }
            out.push_str(if t.is_empty() { "}" } else { " }" });
        }
    }
}

/// A key, bare when TOML allows it.
fn key(k: &str) -> String {
    let bare = !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        k.to_string()
    } else {
        let mut out = String::new();
        string(&mut out, k);
        out
    }
}

/// A basic string with TOML's escapes.
fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_written_reads_back_the_same() {
        let text = r#"
seed = 7
name = "a \"quoted\" \\ name\nwith a line"
list = [1, 2, 3]
[cluster]
brokers = 3
config = { "min.insync.replicas" = 2, acks = "all", nested = { x = true } }
[[topic]]
name = "a.b"
partitions = 2
[[topic]]
name = "c"
ratio = 0.5
"#;
        let original: Table = text.parse().unwrap();
        let written = table(&original);
        let back: Table = written.parse().unwrap_or_else(|e| panic!("{e}\n{written}"));
        assert_eq!(back, original, "{written}");
        assert_eq!(value(&Value::String("x\"y".into())), r#""x\"y""#);
    }
}

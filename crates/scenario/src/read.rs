//! TOML read by hand: a document parsed to spanned tables (`toml::de::DeTable`, every key and
//! value with its place in the text), then each table's fields taken one by one (`Fields`),
//! so an error names its field and line. serde's derive did the same for the scenario and
//! lesson formats at about 100 KB of the page's wasm; this is a few kilobytes.
//!
//! The errors keep the derive's words where users may know them: "unknown field `x`, expected
//! `a` or `b`", "missing field `x`".

use std::collections::BTreeMap;
use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::{Spanned, Table, Value};

use crate::parse::{Lines, ScenarioError};

pub(crate) type Int = Spanned<i64>;
/// A table of the document and its place.
pub(crate) type Section<'a, 'i> = Spanned<&'a DeTable<'i>>;
/// A `config` table: each value with its own place, for errors naming its line.
pub(crate) type ConfigTable = BTreeMap<String, Spanned<Value>>;

/// Parses `text` as a TOML document; a syntax error names its line.
pub(crate) fn document<'i>(
    text: &'i str,
    lines: &Lines<'_>,
) -> Result<Spanned<DeTable<'i>>, ScenarioError> {
    DeTable::parse(text).map_err(|e| {
        let line = e.span().map(|s| lines.at(s.start));
        ScenarioError::field(line, "", e.message().trim_end().to_string())
    })
}

/// `text` as a plain table (no places), for the setting paths and the lessons' comparison.
pub(crate) fn table(text: &str) -> Result<Table, String> {
    let doc = DeTable::parse(text).map_err(|e| e.message().trim_end().to_string())?;
    plain_table(doc.get_ref())
}

/// A spanned value without its places.
pub(crate) fn plain(v: &DeValue<'_>) -> Result<Value, String> {
    Ok(match v {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => Value::Integer(
            i64::from_str_radix(i.as_str(), i.radix())
                .map_err(|_| format!("integer {i} is out of range"))?,
        ),
        DeValue::Float(f) => Value::Float(
            f.as_str()
                .parse()
                .map_err(|_| format!("float {f} is out of range"))?,
        ),
        DeValue::Boolean(b) => Value::Boolean(*b),
        DeValue::Datetime(d) => Value::Datetime(*d),
        DeValue::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| plain(item.get_ref()))
                .collect::<Result<_, _>>()?,
        ),
        DeValue::Table(t) => Value::Table(plain_table(t)?),
    })
}

fn plain_table(t: &DeTable<'_>) -> Result<Table, String> {
    let mut out = Table::new();
    for (k, v) in t {
        out.insert(k.get_ref().to_string(), plain(v.get_ref())?);
    }
    Ok(out)
}

/// One table's fields, taken by name; [`Fields::finish`] refuses any nobody took.
pub(crate) struct Fields<'a, 'i> {
    lines: &'a Lines<'a>,
    /// Where the table is, as errors name fields: `producer`, `challenge`, or empty at the top.
    path: &'a str,
    table: &'a DeTable<'i>,
    span: Range<usize>,
    known: Vec<&'static str>,
}

impl<'a, 'i> Fields<'a, 'i> {
    pub(crate) fn new(lines: &'a Lines<'a>, path: &'a str, table: Section<'a, 'i>) -> Self {
        Fields {
            lines,
            path,
            table: table.get_ref(),
            span: table.span(),
            known: Vec::new(),
        }
    }

    /// The table's own line (its `[header]`, or its first key for an inline table).
    pub(crate) fn line(&self) -> usize {
        self.lines.at(self.span.start)
    }

    fn name(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn get(&mut self, key: &'static str) -> Option<&'a Spanned<DeValue<'i>>> {
        self.known.push(key);
        self.table.get(key)
    }

    fn wrong(&self, key: &str, v: &Spanned<DeValue<'_>>, expected: &str) -> ScenarioError {
        let m = format!(
            "expected {expected}, got {}",
            article(v.get_ref().type_str())
        );
        ScenarioError::field(Some(self.lines.of(v)), self.name(key), m)
    }

    /// A required field, or "missing field" at the table's line.
    pub(crate) fn required<T>(&self, key: &str, v: Option<T>) -> Result<T, ScenarioError> {
        v.ok_or_else(|| {
            ScenarioError::field(
                Some(self.line()),
                self.name(key),
                format!("missing field `{key}`"),
            )
        })
    }

    pub(crate) fn int(&mut self, key: &'static str) -> Result<Option<Int>, ScenarioError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        match v.get_ref() {
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => Ok(Some(Spanned::new(v.span(), n))),
                Err(_) => {
                    let m = format!("{i} is too large: whole numbers here fit in 64 bits");
                    Err(ScenarioError::field(
                        Some(self.lines.of(v)),
                        self.name(key),
                        m,
                    ))
                }
            },
            _ => Err(self.wrong(key, v, "a whole number")),
        }
    }

    /// A whole number, or `"max"` (read as `i64::MAX`).
    pub(crate) fn int_or_max(&mut self, key: &'static str) -> Result<Option<Int>, ScenarioError> {
        match self.table.get(key) {
            Some(v) if matches!(v.get_ref(), DeValue::String(_)) => {
                self.known.push(key);
                match v.get_ref() {
                    DeValue::String(s) if s.as_ref() == "max" => {
                        Ok(Some(Spanned::new(v.span(), i64::MAX)))
                    }
                    _ => Err(self.wrong(key, v, "a whole number or \"max\"")),
                }
            }
            _ => self.int(key),
        }
    }

    pub(crate) fn string(
        &mut self,
        key: &'static str,
    ) -> Result<Option<Spanned<String>>, ScenarioError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        match v.get_ref() {
            DeValue::String(s) => Ok(Some(Spanned::new(v.span(), s.to_string()))),
            _ => Err(self.wrong(key, v, "a string")),
        }
    }

    /// A whole number or a fraction, as written (floats are converted once, by the caller).
    pub(crate) fn number(
        &mut self,
        key: &'static str,
    ) -> Result<Option<Spanned<Number>>, ScenarioError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let n = match v.get_ref() {
            DeValue::Integer(_) | DeValue::Float(_) => match plain(v.get_ref()) {
                Ok(Value::Integer(i)) => Number::Int(i),
                Ok(Value::Float(f)) => Number::Float(f),
                _ => return Err(self.wrong(key, v, "a number that fits in 64 bits")),
            },
            _ => return Err(self.wrong(key, v, "a number")),
        };
        Ok(Some(Spanned::new(v.span(), n)))
    }

    /// An array of strings.
    pub(crate) fn strings(
        &mut self,
        key: &'static str,
    ) -> Result<Option<Spanned<Vec<String>>>, ScenarioError> {
        let Some(items) = self.spanned_strings(key)? else {
            return Ok(None);
        };
        let span = self.table.get(key).map(Spanned::span).unwrap_or_default();
        let items = items.into_iter().map(Spanned::into_inner).collect();
        Ok(Some(Spanned::new(span, items)))
    }

    /// An array of strings, each with its place.
    pub(crate) fn spanned_strings(
        &mut self,
        key: &'static str,
    ) -> Result<Option<Vec<Spanned<String>>>, ScenarioError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let DeValue::Array(items) = v.get_ref() else {
            return Err(self.wrong(key, v, "an array of strings"));
        };
        let mut out = Vec::new();
        for item in items {
            match item.get_ref() {
                DeValue::String(s) => out.push(Spanned::new(item.span(), s.to_string())),
                _ => return Err(self.wrong(key, item, "a string in the array")),
            }
        }
        Ok(Some(out))
    }

    /// An array of whole numbers, each with its place.
    pub(crate) fn ints(&mut self, key: &'static str) -> Result<Option<Vec<Int>>, ScenarioError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let DeValue::Array(items) = v.get_ref() else {
            return Err(self.wrong(key, v, "an array of whole numbers"));
        };
        let mut out = Vec::new();
        for item in items {
            match plain(item.get_ref()) {
                Ok(Value::Integer(i)) => out.push(Spanned::new(item.span(), i)),
                _ => return Err(self.wrong(key, item, "a whole number in the array")),
            }
        }
        Ok(Some(out))
    }

    /// A table of strings (record headers).
    pub(crate) fn string_table(
        &mut self,
        key: &'static str,
    ) -> Result<Option<BTreeMap<String, String>>, ScenarioError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let DeValue::Table(t) = v.get_ref() else {
            return Err(self.wrong(key, v, "a table of strings"));
        };
        let mut out = BTreeMap::new();
        for (k, item) in t {
            match item.get_ref() {
                DeValue::String(s) => out.insert(k.get_ref().to_string(), s.to_string()),
                _ => return Err(self.wrong(key, item, "a string in the table")),
            };
        }
        Ok(Some(out))
    }

    /// A table of settings, each value with its place (`config = { acks = "all" }`).
    pub(crate) fn config(
        &mut self,
        key: &'static str,
    ) -> Result<Option<ConfigTable>, ScenarioError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let DeValue::Table(t) = v.get_ref() else {
            return Err(self.wrong(key, v, "a table"));
        };
        let mut out = ConfigTable::new();
        for (k, item) in t {
            let value = plain(item.get_ref()).map_err(|m| {
                let field = format!("{}.{}", self.name(key), k.get_ref());
                ScenarioError::field(Some(self.lines.of(item)), field, m)
            })?;
            out.insert(k.get_ref().to_string(), Spanned::new(item.span(), value));
        }
        Ok(Some(out))
    }

    /// A table as plain data, with its place (a lesson's solution).
    pub(crate) fn plain_table(
        &mut self,
        key: &'static str,
    ) -> Result<Option<Spanned<Table>>, ScenarioError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let DeValue::Table(t) = v.get_ref() else {
            return Err(self.wrong(key, v, "a table"));
        };
        let table = plain_table(t)
            .map_err(|m| ScenarioError::field(Some(self.lines.of(v)), self.name(key), m))?;
        Ok(Some(Spanned::new(v.span(), table)))
    }

    /// A table (`[cluster]`), to read with its own `Fields`.
    pub(crate) fn table(
        &mut self,
        key: &'static str,
    ) -> Result<Option<Section<'a, 'i>>, ScenarioError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        match v.get_ref() {
            DeValue::Table(t) => Ok(Some(Spanned::new(v.span(), t))),
            _ => Err(self.wrong(key, v, "a table")),
        }
    }

    /// A nested table (`retry = { attempts = 3 }`, or `retry.attempts = 3`), to read with its
    /// own `Fields`, whose errors name `path`.
    pub(crate) fn nested(
        &mut self,
        key: &'static str,
        path: &'a str,
    ) -> Result<Option<Fields<'a, 'i>>, ScenarioError> {
        let Some(t) = self.table(key)? else {
            return Ok(None);
        };
        Ok(Some(Fields::new(self.lines, path, t)))
    }

    /// A whole number, or an array of them.
    pub(crate) fn int_or_ints(
        &mut self,
        key: &'static str,
    ) -> Result<Option<Vec<Int>>, ScenarioError> {
        match self.table.get(key).map(Spanned::get_ref) {
            Some(DeValue::Array(_)) => self.ints(key),
            _ => Ok(self.int(key)?.map(|i| vec![i])),
        }
    }

    /// An array of tables (`[[topic]]`), each to read with its own `Fields`.
    pub(crate) fn tables(
        &mut self,
        key: &'static str,
    ) -> Result<Vec<Section<'a, 'i>>, ScenarioError> {
        let Some(v) = self.get(key) else {
            return Ok(Vec::new());
        };
        let DeValue::Array(items) = v.get_ref() else {
            return Err(self.wrong(key, v, "an array of tables"));
        };
        let mut out = Vec::new();
        for item in items {
            match item.get_ref() {
                DeValue::Table(t) => out.push(Spanned::new(item.span(), t)),
                _ => return Err(self.wrong(key, item, "a table in the array")),
            }
        }
        Ok(out)
    }

    /// Refuses a field nobody asked for, in the derive's words.
    pub(crate) fn finish(self) -> Result<(), ScenarioError> {
        for (k, v) in self.table {
            let key = k.get_ref().as_ref();
            if !self.known.contains(&key) {
                let m = format!("unknown field `{key}`, {}", expected(&self.known));
                return Err(ScenarioError::field(
                    Some(self.lines.of(v)),
                    self.name(key),
                    m,
                ));
            }
        }
        Ok(())
    }
}

/// A number as written: whole, or a fraction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Number {
    Int(i64),
    Float(f64),
}

fn article(type_str: &str) -> String {
    let a = if type_str.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{a} {type_str}")
}

/// "expected `a`", "expected `a` or `b`", "expected one of `a`, `b`, `c`", as serde says it.
fn expected(known: &[&str]) -> String {
    let quoted: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
    match quoted.as_slice() {
        [] => "there are no fields".to_string(),
        [one] => format!("expected {one}"),
        [a, b] => format!("expected {a} or {b}"),
        _ => format!("expected one of {}", quoted.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use crate::Scenario;

    fn error(text: &str) -> String {
        Scenario::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_field_and_its_line_in_the_derive_s_words() {
        assert_eq!(
            error("[network]\nlatency = 3\n"),
            "line 2: `network.latency`: unknown field `latency`, \
             expected `latency_us` or `jitter_us`"
        );
        assert_eq!(
            error("[cluster]\nbrokers = 1\n[[topic]]\npartitions = 3\n"),
            "line 3: `topic.name`: missing field `name`"
        );
        assert_eq!(
            error("seed = 1\n[[consumer]]\nid = \"c\"\ntopics = [\n  \"t\",\n  5,\n]\n"),
            "line 6: `consumer.topics`: expected a string in the array, got an integer"
        );
        // Inside a config table, the key's path.
        assert_eq!(
            error(
                "[[topic]]\nname = \"t\"\nconfig = { \"retention.ms\" = 99999999999999999999 }\n"
            ),
            "line 3: `topic.config.retention.ms`: integer 99999999999999999999 is out of range"
        );
        assert!(error("seed = \"x\"").contains("`seed`: expected a whole number, got a string"));
    }

    #[test]
    fn numbers_as_toml_writes_them() {
        let s = Scenario::parse("seed = 1_000\nduration_ms = 0x10\n").expect("parses");
        assert_eq!((s.seed, s.duration_ms), (1000, 16));
    }
}

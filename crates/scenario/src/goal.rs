//! The goal language of a lesson's challenge: one comparison over the JSON run report
//! ([`crate::report_json`]), in whole numbers only, so a goal means the same natively and in wasm.
//!
//! `LEFT OP RIGHT`, with `OP` one of `== != < <= > >=`. Each side is a sum of terms joined by
//! ` + ` or ` - ` (with spaces: report names hold dashes), and a term is a whole number, a report
//! path, or `N% of PATH`. `acked >= 95% of produced` means `acked * 100 >= produced * 95`.
//!
//! A path walks the report's JSON by its keys, dot-separated: `lost_acked`, `rebalances.count`,
//! `groups.billing.paused_ms`, `consumers.group:billing.duplicates`, `partitions.payments-0.hw`.
//! An array of tables is indexed by each table's natural name (a partition's `topic-partition`,
//! a group's `group`, a consumer's `audience`, a member's `consumer`) or by position; a path that
//! ends at an array gives its length (`partitions.payments-0.isr` is the ISR's size). Under
//! `failures` an error name the run never saw counts zero; any other name the report does not
//! have is an error naming the path, never a silent false.

use serde_json::Value;

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    /// Longest first, so `<=` is not read as `<`.
    const ALL: [(&'static str, Op); 6] = [
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];

    fn holds(self, a: i128, b: i128) -> bool {
        match self {
            Op::Eq => a == b,
            Op::Ne => a != b,
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
        }
    }
}

/// One term of a side: `percent`% of a number or of a path's value (100 for a plain term).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Term {
    negative: bool,
    percent: i64,
    value: Operand,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Operand {
    Number(i64),
    Path(String),
}

/// A parsed goal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Predicate {
    left: Vec<Term>,
    op: Op,
    right: Vec<Term>,
}

/// What a predicate found in a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub passed: bool,
    /// The values the paths had, as `acked = 950, produced = 1000`.
    pub actual: String,
}

impl Predicate {
    /// Reads a goal. The error says what is wrong; the caller names the field.
    pub fn parse(text: &str) -> Result<Predicate, String> {
        let found = text.char_indices().find_map(|(i, _)| {
            Op::ALL
                .iter()
                .find(|(s, _)| text[i..].starts_with(s))
                .map(|(s, op)| (i, s.len(), *op))
        });
        let Some((at, len, op)) = found else {
            return Err(format!(
                "expected `LEFT OP RIGHT` with OP one of == != < <= > >=, got {text:?}"
            ));
        };
        let left = side(&text[..at])?;
        let right = side(&text[at + len..])?;
        Ok(Predicate { left, op, right })
    }

    /// The paths the goal reads, in order.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.left
            .iter()
            .chain(&self.right)
            .filter_map(|t| match &t.value {
                Operand::Path(p) => Some(p.as_str()),
                Operand::Number(_) => None,
            })
    }

    /// Evaluates the goal over `report`. An unknown path is an error naming it.
    pub fn eval(&self, report: &Value) -> Result<Outcome, String> {
        let mut actual = Vec::new();
        let mut sum = |terms: &[Term]| -> Result<i128, String> {
            let mut total = 0i128;
            for t in terms {
                let v = match &t.value {
                    Operand::Number(n) => i128::from(*n),
                    Operand::Path(p) => {
                        let v = lookup(report, p)?;
                        actual.push(format!("{p} = {v}"));
                        v
                    }
                };
                // Hundredths: every term is scaled by its percentage, so no division happens.
                let scaled = v * i128::from(t.percent);
                total += if t.negative { -scaled } else { scaled };
            }
            Ok(total)
        };
        let a = sum(&self.left)?;
        let b = sum(&self.right)?;
        actual.dedup();
        Ok(Outcome {
            passed: self.op.holds(a, b),
            actual: actual.join(", "),
        })
    }
}

/// One side: terms joined by ` + ` or ` - `.
fn side(text: &str) -> Result<Vec<Term>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("a side of the comparison is empty".to_string());
    }
    let mut terms = Vec::new();
    let mut negative = false;
    let mut rest = text;
    loop {
        let next = [" + ", " - "]
            .iter()
            .filter_map(|s| rest.find(s).map(|i| (i, *s)))
            .min();
        let (head, tail) = match next {
            Some((i, s)) => (&rest[..i], Some((&rest[i + 3..], s == " - "))),
            None => (rest, None),
        };
        let mut t = term(head.trim())?;
        t.negative = negative;
        terms.push(t);
        match tail {
            Some((r, neg)) => {
                rest = r;
                negative = neg;
            }
            None => return Ok(terms),
        }
    }
}

/// A number, a path, or `N% of PATH` (or `N% of NUMBER`).
fn term(text: &str) -> Result<Term, String> {
    let (percent, rest) = match text.split_once('%') {
        Some((n, rest)) => {
            let n: i64 = n
                .trim()
                .parse()
                .map_err(|_| format!("expected a whole number before `%`, got {n:?}"))?;
            if !(0..=1_000_000).contains(&n) {
                return Err(format!("a percentage must be 0 to 1000000, got {n}"));
            }
            let Some(of) = rest.trim_start().strip_prefix("of ") else {
                return Err(format!("expected `{n}% of PATH`, got {text:?}"));
            };
            (n, of.trim())
        }
        None => (100, text),
    };
    let value = if let Ok(n) = rest.parse::<i64>() {
        Operand::Number(n)
    } else if is_path(rest) {
        Operand::Path(rest.to_string())
    } else {
        return Err(format!(
            "expected a whole number, a report path (like `acked` or \
             `groups.billing.lag`) or `N% of PATH`, got {rest:?}"
        ));
    };
    Ok(Term {
        negative: false,
        percent,
        value,
    })
}

fn is_path(s: &str) -> bool {
    !s.is_empty()
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':'))
        && !s.contains("..")
        && !s.ends_with('.')
}

/// The whole number at `path` in `report`.
pub fn lookup(report: &Value, path: &str) -> Result<i128, String> {
    let mut here = report;
    let mut rest = path;
    let mut walked = String::new();
    while !rest.is_empty() {
        let Some((next, key_len)) = step(here, rest) else {
            // An error code the run never met: `failures` lists only those that happened.
            if walked == "failures" && here.is_object() {
                return Ok(0);
            }
            return Err(not_found(here, &walked, rest));
        };
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(&rest[..key_len]);
        rest = rest[key_len..].strip_prefix('.').unwrap_or("");
        here = next;
    }
    match here {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .ok_or_else(|| format!("`{path}` is not a whole number")),
        Value::Array(a) => Ok(a.len() as i128),
        Value::Bool(b) => Ok(i128::from(*b)),
        Value::Null => Err(format!("`{path}` has no value")),
        Value::String(_) => Err(format!("`{path}` is text, not a number")),
        Value::Object(_) => Err(format!(
            "`{path}` is a table; name one of its keys: {}",
            names(here).join(", ")
        )),
    }
}

/// Says what `here` (reached by `walked`) has instead of `rest`.
fn not_found(here: &Value, walked: &str, rest: &str) -> String {
    let known = names(here);
    let at = if walked.is_empty() {
        "the report".to_string()
    } else {
        format!("`{walked}`")
    };
    if known.is_empty() {
        format!("{at} has nothing named `{rest}`")
    } else {
        format!("{at} has no `{rest}`; it has {}", known.join(", "))
    }
}

/// One step down from `here` along `rest`: the value and how many bytes of `rest` named it.
/// Names may hold dots themselves, so the longest name that `rest` starts with wins.
fn step<'a>(here: &'a Value, rest: &str) -> Option<(&'a Value, usize)> {
    let fits = |name: &str| rest == name || rest.starts_with(&format!("{name}."));
    match here {
        Value::Object(m) => m
            .iter()
            .filter(|(k, _)| fits(k))
            .max_by_key(|(k, _)| k.len())
            .map(|(k, v)| (v, k.len())),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                natural_name(v)
                    .filter(|n| fits(n))
                    .or_else(|| Some(i.to_string()).filter(|n| fits(n)))
                    .map(|n| (v, n.len()))
            })
            .max_by_key(|(_, len)| *len),
        _ => None,
    }
}

/// What a table in an array is called: `topic-partition`, or its group, audience, consumer or
/// producer.
fn natural_name(v: &Value) -> Option<String> {
    let o = v.as_object()?;
    if let (Some(t), Some(p)) = (o.get("topic"), o.get("partition")) {
        return Some(format!("{}-{}", t.as_str()?, p.as_u64()?));
    }
    ["group", "audience", "consumer", "producer", "name"]
        .iter()
        .find_map(|k| o.get(*k).and_then(Value::as_str))
        .map(str::to_string)
}

/// The names under `here`, for an error message (at most twelve).
fn names(here: &Value) -> Vec<String> {
    let mut out: Vec<String> = match here {
        Value::Object(m) => m.keys().cloned().collect(),
        Value::Array(a) => a.iter().filter_map(natural_name).collect(),
        _ => Vec::new(),
    };
    if out.len() > 12 {
        out.truncate(12);
        out.push("...".to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report() -> Value {
        json!({
            "produced": 1000,
            "acked": 950,
            "lost_acked": 0,
            "failures": { "NOT_ENOUGH_REPLICAS": 12 },
            "rebalances": { "count": 3 },
            "partitions": [
                { "topic": "payments", "partition": 0, "hw": 500, "isr": [0, 1, 2] },
                { "topic": "a.b", "partition": 1, "hw": 7, "isr": [1] },
            ],
            "consumers": [ { "audience": "group:billing", "duplicates": 4 } ],
            "groups": [ { "group": "billing", "members": [
                { "consumer": "c1", "assignment": [] },
            ] } ],
        })
    }

    fn eval(goal: &str) -> Result<Outcome, String> {
        Predicate::parse(goal)?.eval(&report())
    }

    #[test]
    fn percentages_compare_in_whole_numbers() {
        // 950 * 100 >= 1000 * 95 exactly: no rounding either way.
        assert!(eval("acked >= 95% of produced").unwrap().passed);
        assert!(!eval("acked >= 96% of produced").unwrap().passed);
        assert!(!eval("acked > 95% of produced").unwrap().passed);
        assert!(eval("produced - acked <= 50").unwrap().passed);
        assert!(!eval("produced - acked < 50").unwrap().passed);
        assert!(eval("acked + 50 == produced").unwrap().passed);
        assert!(eval("5% of produced == 50").unwrap().passed);
        let o = eval("lost_acked == 0").unwrap();
        assert_eq!(
            (o.passed, o.actual.as_str()),
            (true, "lost_acked = 0"),
            "the actual value is shown"
        );
    }

    #[test]
    fn paths_walk_tables_arrays_by_name_and_lengths() {
        assert!(eval("partitions.payments-0.hw == 500").unwrap().passed);
        // A topic name with a dot in it.
        assert!(eval("partitions.a.b-1.hw == 7").unwrap().passed);
        assert!(eval("partitions.payments-0.isr == 3").unwrap().passed);
        assert!(eval("partitions == 2").unwrap().passed);
        assert!(eval("partitions.1.hw == 7").unwrap().passed);
        assert!(
            eval("consumers.group:billing.duplicates == 4")
                .unwrap()
                .passed
        );
        assert!(
            eval("groups.billing.members.c1.assignment == 0")
                .unwrap()
                .passed
        );
        assert!(eval("rebalances.count != 2").unwrap().passed);
        assert!(eval("failures.NOT_ENOUGH_REPLICAS == 12").unwrap().passed);
        assert!(eval("failures.DELIVERY_TIMEOUT == 0").unwrap().passed);
    }

    #[test]
    fn an_unknown_path_is_an_error_naming_it() {
        let e = eval("groups.ledger.lag == 0").unwrap_err();
        assert!(e.contains("`groups` has no `ledger.lag`"), "{e}");
        assert!(e.contains("billing"), "{e}");
        let e = eval("lost_acks == 0").unwrap_err();
        assert!(e.contains("the report has no `lost_acks`"), "{e}");
        let e = eval("rebalances == 0").unwrap_err();
        assert!(e.contains("is a table"), "{e}");
    }

    #[test]
    fn malformed_goals_are_refused() {
        for (goal, says) in [
            ("lost_acked", "LEFT OP RIGHT"),
            ("== 0", "empty"),
            (
                "acked >= 95 of produced",
                "expected a whole number, a report path",
            ),
            ("acked >= x% of produced", "before `%`"),
            ("acked >= 95% produced", "95% of PATH"),
            ("acked >= 95% of ", "95% of PATH"),
            ("acked => 5", "report path"),
            ("é == 1", "report path"),
            ("acked == 1é", "report path"),
            ("acked >= 9é% of produced", "before `%`"),
        ] {
            let e = Predicate::parse(goal).unwrap_err();
            assert!(e.contains(says), "{goal}: {e}");
        }
    }

    proptest::proptest! {
        /// Any text parses or is refused, and a parsed goal evaluates or names what is wrong.
        #[test]
        fn no_goal_text_makes_it_panic(text in "[ a-z0-9_.:%<>=!+-]{0,40}|\\PC{0,20}") {
            if let Ok(p) = Predicate::parse(&text) {
                let _ = p.eval(&report());
            }
        }
    }
}

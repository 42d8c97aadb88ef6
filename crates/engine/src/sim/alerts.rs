//! Alerts as operators set them on Kafka's metrics: `records-lag-max > 1000 for 30 s`,
//! `UnderReplicatedPartitions > 0`. A rule is checked against every sample of the metrics
//! (see [`super::Monitor`]); it fires once its condition has held for its `for` duration
//! (Prometheus' `for:` clause, which operators of Kafka clusters usually write them in) and
//! resolves at the first sample where it no longer holds. Each scope is its own alert: lag on
//! `consumer:c1` and on `consumer:c2` fire and resolve apart, as one Prometheus rule over many
//! series does.

use std::collections::BTreeMap;
use std::fmt;

use super::metrics::{MetricPoint, METRICS};

/// How a value is compared with the threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Above,
    AtLeast,
    Below,
    AtMost,
    Equal,
    NotEqual,
}

impl Op {
    /// The operators by their text, longest first (so `>=` is not read as `>`).
    const ALL: [(&'static str, Op); 6] = [
        (">=", Op::AtLeast),
        ("<=", Op::AtMost),
        ("==", Op::Equal),
        ("!=", Op::NotEqual),
        (">", Op::Above),
        ("<", Op::Below),
    ];

    fn text(self) -> &'static str {
        Op::ALL
            .iter()
            .find(|(_, op)| *op == self)
            .map_or("?", |(t, _)| t)
    }

    fn holds(self, value: i64, threshold: i64) -> bool {
        match self {
            Op::Above => value > threshold,
            Op::AtLeast => value >= threshold,
            Op::Below => value < threshold,
            Op::AtMost => value <= threshold,
            Op::Equal => value == threshold,
            Op::NotEqual => value != threshold,
        }
    }
}

/// One alert rule: `METRIC [on SCOPE] OP VALUE [for DURATION]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertRule {
    /// Kafka's name, one of [`METRICS`].
    pub metric: &'static str,
    /// One scope (`consumer:c1`, `broker:0`), or every scope with that metric.
    pub scope: Option<String>,
    pub op: Op,
    /// In thousandths, like [`MetricPoint::milli`].
    pub threshold_milli: i64,
    /// How long the condition must hold before the alert fires.
    pub for_ms: u64,
}

/// The longest `for` accepted: a day, the longest run.
const MAX_FOR_MS: u64 = 86_400_000;

impl AlertRule {
    /// Reads a rule as an operator types it; the error says what is wrong and what is
    /// expected.
    pub fn parse(text: &str) -> Result<AlertRule, String> {
        let text = text.trim();
        let form = "write it as METRIC [on SCOPE] OP VALUE [for N s], e.g. \
                    `records-lag-max > 1000 for 30 s`";
        let (at, op_text, op) = Op::ALL
            .iter()
            .filter_map(|(t, op)| text.find(t).map(|at| (at, *t, *op)))
            .min_by_key(|(at, t, _)| (*at, std::cmp::Reverse(t.len())))
            .ok_or_else(|| format!("no comparison (>, >=, <, <=, ==, !=): {form}"))?;
        let (left, right) = (&text[..at], &text[at + op_text.len()..]);
        let mut words = left.split_whitespace();
        let name = words
            .next()
            .ok_or_else(|| format!("no metric before {op_text}: {form}"))?;
        let metric = METRICS
            .iter()
            .map(|(_, m, _)| *m)
            .find(|m| *m == name)
            .ok_or_else(|| {
                let known: Vec<&str> = METRICS.iter().map(|(_, m, _)| *m).collect();
                format!(
                    "unknown metric {name:?}, expected one of {}",
                    known.join(", ")
                )
            })?;
        let scope = match (words.next(), words.next(), words.next()) {
            (None, ..) => None,
            (Some("on"), Some(scope), None) => Some(scope_of(metric, scope)?),
            _ => return Err(format!("after the metric, only `on SCOPE`: {form}")),
        };
        let mut words = right.split_whitespace();
        let value = words
            .next()
            .ok_or_else(|| format!("no value after {op_text}: {form}"))?;
        let threshold_milli = milli_of(value)
            .ok_or_else(|| format!("{value:?} is not a number (three decimals at most)"))?;
        let rest: Vec<&str> = words.collect();
        let for_ms = match rest.as_slice() {
            [] => 0,
            ["for", amount] => duration_ms(amount, "")?,
            ["for", amount, unit] => duration_ms(amount, unit)?,
            _ => return Err(format!("after the value, only `for N s`: {form}")),
        };
        Ok(AlertRule {
            metric,
            scope,
            op,
            threshold_milli,
            for_ms,
        })
    }

    fn applies_to(&self, point: &MetricPoint) -> bool {
        point.name == self.metric && self.scope.as_ref().is_none_or(|s| *s == point.scope)
    }
}

/// A scope as written after `on`, checked against the metric's kind of scope.
fn scope_of(metric: &str, scope: &str) -> Result<String, String> {
    let kind = METRICS
        .iter()
        .find(|(_, m, _)| *m == metric)
        .map_or("", |(k, _, _)| *k);
    let ok = match scope.split_once(':') {
        Some((k, name)) => k == kind && !name.is_empty(),
        None => scope == kind && kind == "cluster",
    };
    if ok {
        Ok(scope.to_string())
    } else if kind == "cluster" {
        Err(format!(
            "{metric} is a cluster metric: write `on cluster` or no scope"
        ))
    } else {
        Err(format!(
            "{metric} is a {kind} metric: its scope is {kind}:NAME (e.g. `on {kind}:{}`), \
             got {scope:?}",
            if kind == "broker" { "0" } else { "c1" }
        ))
    }
}

/// `1000`, `0.5`, `-2` in thousandths.
fn milli_of(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || frac.len() > 3 || !all_digits(whole) || !all_digits(frac) {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = format!("{frac:0<3}").parse().ok()?;
    let v = whole.checked_mul(1_000)?.checked_add(frac)?;
    // A bound far beyond any metric, so arithmetic on it never overflows.
    (v <= 1_000_000_000_000_000).then_some(if negative { -v } else { v })
}

/// `30 s`, `30s`, `500 ms`, `2 min` in milliseconds.
fn duration_ms(amount: &str, unit: &str) -> Result<u64, String> {
    let split = amount
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(amount.len());
    let (digits, glued) = amount.split_at(split);
    let unit = if glued.is_empty() { unit } else { glued };
    let scale = match unit {
        "ms" => 1,
        "s" | "sec" | "" => 1_000,
        "m" | "min" => 60_000,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} after `for`: use ms, s or min"
            ))
        }
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .filter(|ms| *ms <= MAX_FOR_MS)
        .ok_or_else(|| format!("`for {amount}{unit}`: a whole number of at most a day"))
}

/// A value in thousandths as Kafka prints it (`1523`, `0.75`).
pub fn decimal(milli: i64) -> String {
    let sign = if milli < 0 { "-" } else { "" };
    let v = milli.unsigned_abs();
    let text = format!("{sign}{}.{:03}", v / 1_000, v % 1_000);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl fmt::Display for AlertRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.metric)?;
        if let Some(scope) = &self.scope {
            write!(f, " on {scope}")?;
        }
        write!(f, " {} {}", self.op.text(), decimal(self.threshold_milli))?;
        match self.for_ms {
            0 => Ok(()),
            ms if ms % 1_000 == 0 => write!(f, " for {} s", ms / 1_000),
            ms => write!(f, " for {ms} ms"),
        }
    }
}

/// An alert's state on one scope.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct ScopeState {
    /// Since when the condition holds (ms), if it does.
    since_ms: Option<u64>,
    firing: bool,
}

/// A change of an alert, for the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertChange {
    pub rule: String,
    pub scope: String,
    pub fired: bool,
    pub value_milli: i64,
}

/// The rules and where each stands.
#[derive(Clone, Debug, Default)]
pub(super) struct Alerts {
    rules: Vec<(AlertRule, BTreeMap<String, ScopeState>)>,
}

/// An alert rule as the page lists it: the scopes it fires on now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertView {
    pub rule: String,
    pub firing: Vec<String>,
    /// Scopes where the condition holds but not yet for long enough.
    pub pending: Vec<String>,
}

impl Alerts {
    pub(super) fn new(rules: &[AlertRule]) -> Alerts {
        Alerts {
            rules: rules.iter().map(|r| (r.clone(), BTreeMap::new())).collect(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Checks one sample's points; what fired or resolved, in rule then scope order.
    pub(super) fn check(&mut self, at_ms: u64, points: &[MetricPoint]) -> Vec<AlertChange> {
        let mut out = Vec::new();
        for (rule, scopes) in &mut self.rules {
            for p in points.iter().filter(|p| rule.applies_to(p)) {
                let state = scopes.entry(p.scope.clone()).or_default();
                let holds = rule.op.holds(p.milli, rule.threshold_milli);
                let change = if holds {
                    let since = *state.since_ms.get_or_insert(at_ms);
                    let due = at_ms.saturating_sub(since) >= rule.for_ms;
                    (due && !state.firing).then_some(true)
                } else {
                    state.since_ms = None;
                    state.firing.then_some(false)
                };
                if let Some(fired) = change {
                    state.firing = fired;
                    out.push(AlertChange {
                        rule: rule.to_string(),
                        scope: p.scope.clone(),
                        fired,
                        value_milli: p.milli,
                    });
                }
            }
        }
        out
    }

    pub(super) fn views(&self) -> Vec<AlertView> {
        self.rules
            .iter()
            .map(|(rule, scopes)| {
                let pick = |firing: bool| {
                    let states = scopes.iter().filter(move |(_, s)| {
                        s.firing == firing && (firing || s.since_ms.is_some())
                    });
                    states.map(|(scope, _)| scope.clone()).collect()
                };
                AlertView {
                    rule: rule.to_string(),
                    firing: pick(true),
                    pending: pick(false),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(at_ms: u64, scope: &str, name: &'static str, milli: i64) -> MetricPoint {
        MetricPoint {
            at_ms,
            scope: scope.to_string(),
            name,
            milli,
        }
    }

    #[test]
    fn rules_read_as_operators_write_them_and_print_back() {
        for (text, printed) in [
            (
                "records-lag-max > 1000 for 30 s",
                "records-lag-max > 1000 for 30 s",
            ),
            (
                "records-lag-max>1000 for 30s",
                "records-lag-max > 1000 for 30 s",
            ),
            (
                "UnderReplicatedPartitions > 0",
                "UnderReplicatedPartitions > 0",
            ),
            (
                "RequestHandlerAvgIdlePercent on broker:1 <= 0.25 for 500 ms",
                "RequestHandlerAvgIdlePercent on broker:1 <= 0.25 for 500 ms",
            ),
            (
                "OfflinePartitionsCount >= 1 for 2 min",
                "OfflinePartitionsCount >= 1 for 120 s",
            ),
        ] {
            let rule = AlertRule::parse(text).unwrap();
            assert_eq!(rule.to_string(), printed);
            assert_eq!(AlertRule::parse(printed).unwrap(), rule);
        }
        let r = AlertRule::parse("records-lag-max on consumer:c1 != -1.5").unwrap();
        assert_eq!((r.op, r.threshold_milli), (Op::NotEqual, -1_500));
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        for (text, says) in [
            ("records-lag-max 1000", "no comparison"),
            ("lag > 1000", "unknown metric \"lag\""),
            ("records-lag-max > many", "not a number"),
            ("records-lag-max > 1 for 3 days", "unknown unit"),
            ("records-lag-max > 1 for 99999999 s", "at most a day"),
            ("records-lag-max on broker:0 > 1", "a consumer metric"),
            ("records-lag-max > 1 when idle", "only `for N s`"),
            ("> 1", "no metric"),
        ] {
            let e = AlertRule::parse(text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn an_alert_fires_after_its_duration_and_resolves_per_scope() {
        let rule = AlertRule::parse("records-lag-max > 1000 for 2 s").unwrap();
        let mut alerts = Alerts::new(&[rule]);
        let lag = |at, c1: i64, c2: i64| {
            vec![
                point(at, "consumer:c1", "records-lag-max", c1 * 1_000),
                point(at, "consumer:c2", "records-lag-max", c2 * 1_000),
                point(at, "consumer:c1", "records-consumed-rate", 5_000_000),
            ]
        };
        assert!(alerts.check(1_000, &lag(1_000, 1_500, 10)).is_empty());
        assert_eq!(alerts.views()[0].pending, vec!["consumer:c1".to_string()]);
        assert!(alerts.check(2_000, &lag(2_000, 1_600, 10)).is_empty());
        let fired = alerts.check(3_000, &lag(3_000, 1_700, 2_000));
        assert_eq!(fired.len(), 1);
        assert_eq!(
            (fired[0].scope.as_str(), fired[0].fired),
            ("consumer:c1", true)
        );
        assert_eq!(fired[0].value_milli, 1_700_000);
        // c2 started holding at 3 s: it fires at 5 s unless it stops first; c1 keeps firing.
        assert!(alerts.check(4_000, &lag(4_000, 1_800, 2_000)).is_empty());
        let changed = alerts.check(5_000, &lag(5_000, 1_000, 2_000));
        let summary: Vec<_> = changed
            .iter()
            .map(|c| (c.scope.as_str(), c.fired))
            .collect();
        assert_eq!(summary, [("consumer:c1", false), ("consumer:c2", true)]);
        assert_eq!(alerts.views()[0].firing, vec!["consumer:c2".to_string()]);
    }

    #[test]
    fn a_condition_that_breaks_off_starts_its_duration_again() {
        let rule = AlertRule::parse("UnderReplicatedPartitions on broker:0 > 0 for 2 s").unwrap();
        let mut alerts = Alerts::new(&[rule]);
        let urp = |at, n: i64| {
            vec![
                point(at, "broker:0", "UnderReplicatedPartitions", n * 1_000),
                point(at, "broker:1", "UnderReplicatedPartitions", 5_000),
            ]
        };
        assert!(alerts.check(1_000, &urp(1_000, 1)).is_empty());
        assert!(alerts.check(2_000, &urp(2_000, 0)).is_empty());
        assert!(alerts.check(3_000, &urp(3_000, 1)).is_empty());
        assert!(alerts.check(4_000, &urp(4_000, 1)).is_empty());
        assert_eq!(alerts.check(5_000, &urp(5_000, 1)).len(), 1);
    }
}

//! Kafka's metrics over the run, for the page's charts: every sample the run took (see
//! `Sim::keep_metric_points`), kept by time so a replay after a seek overwrites what it
//! samples again, and shown up to the moment the run is at.

use std::collections::BTreeMap;
use std::rc::Rc;

use kplay_engine::sim::{AlertView, MetricPoint, Sim};

/// Samples kept per series: an hour at the default interval of a second.
pub const MAX_POINTS: usize = 3_600;

/// Points a chart gets: the newest, at most this many (a chart is 600 px wide).
pub const CHART_POINTS: usize = 300;

/// One metric of one scope over time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Series {
    /// `producer:NAME`, `broker:0`, `cluster`, ...
    pub scope: String,
    /// Kafka's name.
    pub name: &'static str,
    /// `(time ms, value in thousandths)`, oldest first, up to the run's time.
    pub points: Vec<(u64, i64)>,
}

/// What the page's metrics panel shows: every series up to now, and the alerts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricsView {
    pub series: Vec<Series>,
    pub alerts: Vec<AlertView>,
    pub interval_ms: u64,
    /// The run's time the view is of.
    pub now_ms: u64,
}

impl MetricsView {
    pub fn get(&self, scope: &str, name: &str) -> Option<&Series> {
        self.series
            .iter()
            .find(|s| s.scope == scope && s.name == name)
    }
}

/// Every sample of the run.
#[derive(Clone, Debug, Default)]
pub(crate) struct MetricStore {
    by: BTreeMap<(String, &'static str), BTreeMap<u64, i64>>,
    /// Bumped by every sample taken in: the view is made again only then, or when the run's
    /// time crosses a sample (a seek).
    version: u64,
    view: Rc<MetricsView>,
    /// The version and the latest sample time the view shows.
    view_key: (u64, u64),
}

impl MetricStore {
    /// Takes the samples the run took since the last call, and makes the view at the run's
    /// time again if something it shows changed.
    pub(crate) fn refresh(&mut self, sim: &mut Sim) {
        self.absorb(sim.take_metric_points());
        let interval_ms = sim
            .metrics_interval()
            .map_or(1_000, |d| d.as_millis().max(1));
        let now_ms = sim.now().as_millis();
        let key = (self.version, now_ms - now_ms % interval_ms);
        if key != self.view_key {
            self.view_key = key;
            self.view = Rc::new(MetricsView {
                series: self.series_until(now_ms),
                alerts: sim.alerts(),
                interval_ms,
                now_ms,
            });
        }
    }

    pub(crate) fn view(&self) -> Rc<MetricsView> {
        self.view.clone()
    }

    fn absorb(&mut self, points: Vec<MetricPoint>) {
        if points.is_empty() {
            return;
        }
        self.version += 1;
        for MetricPoint {
            at_ms,
            scope,
            name,
            milli,
        } in points
        {
            let series = self.by.entry((scope, name)).or_default();
            series.insert(at_ms, milli);
            if series.len() > MAX_POINTS {
                series.pop_first();
            }
        }
    }

    fn series_until(&self, now_ms: u64) -> Vec<Series> {
        self.by
            .iter()
            .map(|((scope, name), points)| {
                let upto: Vec<(u64, i64)> = points
                    .range(..=now_ms)
                    .rev()
                    .take(CHART_POINTS)
                    .map(|(at, v)| (*at, *v))
                    .collect();
                Series {
                    scope: scope.clone(),
                    name,
                    points: upto.into_iter().rev().collect(),
                }
            })
            .filter(|s| !s.points.is_empty())
            .collect()
    }
}

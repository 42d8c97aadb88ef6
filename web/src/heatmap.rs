//! A compact view of a topic with many partitions: one square per partition on a canvas,
//! shaded by how far its slowest reader is behind the high watermark, outlined when a replica
//! is out of sync, red when offline. A hundred detailed rows made the page 7,300 px long; the
//! map is one element, and a click opens the detailed row of that partition.

use std::rc::Rc;

use kplay_engine::snapshot::{Snapshot, TopicView};
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};
use yew::prelude::*;

/// Topics with more partitions than this show the map, and rows only for those opened.
pub const COMPACT_OVER: usize = 24;

const COLUMNS: u32 = 20;
const CELL_W: u32 = 30;
const CELL_H: u32 = 22;

/// What one square shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeatCell {
    pub partition: u32,
    pub log_end: u64,
    pub high_watermark: u64,
    /// High watermark minus the slowest reader's position (none without readers).
    pub lag: Option<u64>,
    pub under_replicated: bool,
    pub offline: bool,
    pub opened: bool,
}

/// The squares of a topic, from the snapshot.
pub fn cells_of(snapshot: &Snapshot, t: &TopicView, opened: impl Fn(u32) -> bool) -> Vec<HeatCell> {
    t.partitions
        .iter()
        .map(|p| {
            let positions = snapshot
                .consumers
                .iter()
                .flat_map(|c| &c.partitions)
                .filter(|cp| cp.topic == p.topic && cp.partition == p.partition)
                .filter_map(|cp| cp.position);
            HeatCell {
                partition: p.partition,
                log_end: p.log_end,
                high_watermark: p.high_watermark,
                lag: positions
                    .min()
                    .map(|pos| p.high_watermark.saturating_sub(pos)),
                under_replicated: p.isr.len() < p.replicas.len(),
                offline: p.leader.is_none(),
                opened: opened(p.partition),
            }
        })
        .collect()
}

#[derive(Properties, PartialEq)]
pub struct HeatMapProps {
    pub topic: String,
    pub cells: Rc<Vec<HeatCell>>,
    /// A square clicked: its partition.
    pub on_open: Callback<u32>,
}

/// A square's fill: grey without readers, then lighter to darker blue with the lag (relative
/// to the most lagging partition), red when offline.
fn fill(cell: &HeatCell, max_lag: u64) -> String {
    if cell.offline {
        return "#D55E00".into();
    }
    match cell.lag {
        None => "#dfe3e8".into(),
        Some(lag) => {
            let share = lag * 100 / max_lag.max(1);
            // From #e8f1fa (caught up) to #0b4f80 (the most behind).
            let mix = |a: u64, b: u64| a - (a - b) * share / 100;
            format!(
                "rgb({},{},{})",
                mix(0xe8, 0x0b),
                mix(0xf1, 0x4f),
                mix(0xfa, 0x80)
            )
        }
    }
}

fn draw(canvas: &HtmlCanvasElement, cells: &[HeatCell]) {
    let Ok(Some(ctx)) = canvas.get_context("2d") else {
        return;
    };
    let Ok(ctx) = ctx.dyn_into::<CanvasRenderingContext2d>() else {
        return;
    };
    let max_lag = cells.iter().filter_map(|c| c.lag).max().unwrap_or(0);
    ctx.clear_rect(
        0.0,
        0.0,
        f64::from(canvas.width()),
        f64::from(canvas.height()),
    );
    ctx.set_font("10px sans-serif");
    for (i, c) in cells.iter().enumerate() {
        let (x, y) = (
            f64::from(i as u32 % COLUMNS * CELL_W),
            f64::from(i as u32 / COLUMNS * CELL_H),
        );
        ctx.set_fill_style_str(&fill(c, max_lag));
        ctx.fill_rect(
            x + 1.0,
            y + 1.0,
            f64::from(CELL_W - 2),
            f64::from(CELL_H - 2),
        );
        if c.under_replicated || c.opened {
            ctx.set_stroke_style_str(if c.opened { "#111" } else { "#E69F00" });
            ctx.set_line_width(2.0);
            ctx.stroke_rect(
                x + 2.0,
                y + 2.0,
                f64::from(CELL_W - 4),
                f64::from(CELL_H - 4),
            );
        }
        let dark = c.offline || c.lag.is_some_and(|l| l * 2 > max_lag && max_lag > 0);
        ctx.set_fill_style_str(if dark { "#fff" } else { "#111" });
        let _ = ctx.fill_text(&c.partition.to_string(), x + 5.0, y + 15.0);
    }
}

#[function_component]
pub fn HeatMap(props: &HeatMapProps) -> Html {
    let canvas = use_node_ref();
    {
        let (canvas, cells) = (canvas.clone(), props.cells.clone());
        use_effect_with(cells, move |cells| {
            if let Some(c) = canvas.cast::<HtmlCanvasElement>() {
                draw(&c, cells);
            }
        });
    }
    let n = props.cells.len() as u32;
    let rows = n.div_ceil(COLUMNS).max(1);
    let onclick = {
        let (on_open, cells) = (props.on_open.clone(), props.cells.clone());
        Callback::from(move |e: MouseEvent| {
            let (x, y) = (e.offset_x().max(0) as u32, e.offset_y().max(0) as u32);
            let i = (y / CELL_H * COLUMNS + (x / CELL_W).min(COLUMNS - 1)) as usize;
            if let Some(c) = cells.get(i) {
                on_open.emit(c.partition);
            }
        })
    };
    let lagging = props
        .cells
        .iter()
        .filter(|c| c.lag.is_some_and(|l| l > 0))
        .count();
    let under = props.cells.iter().filter(|c| c.under_replicated).count();
    let label = format!("{n} partitions: {lagging} with readers behind, {under} under-replicated");
    html! {
        <div class="heatmap" data-testid={format!("heatmap-{}", props.topic)}>
            <canvas ref={canvas} width={(COLUMNS * CELL_W).to_string()}
                    height={(rows * CELL_H).to_string()} onclick={onclick} role="img"
                    aria-label={label} />
            <p class="hint">{ format!(
                "{n} partitions, one square each: darker blue is further behind the high watermark \
                 (its slowest reader), grey has no reader, an orange outline has a replica out of \
                 sync, red is offline. {lagging} behind, {under} under-replicated. Click a square \
                 for its row; click again to close it.") }</p>
        </div>
    }
}

//! Colours that carry meaning: a record key's (the same key looks the same in every partition,
//! in the produce form too) and a group member's. Both palettes are Okabe–Ito, distinguishable
//! with the common forms of colour blindness; the CSS key classes (`k0`..`k6`, `knull`) in
//! `style.css` follow `KEY_PALETTE`'s order.

use kplay_engine::partitioner::murmur2;
use kplay_engine::snapshot::GroupView;

const KEY_PALETTE: [&str; 7] = [
    "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
];

/// A key's colour: the same key always looks the same, in every partition.
pub fn key_colour(key: Option<&str>) -> &'static str {
    match key {
        None => "#9aa0a6",
        Some(k) => KEY_PALETTE[key_slot(k)],
    }
}

fn key_slot(k: &str) -> usize {
    (murmur2(k.as_bytes()) as u32 % KEY_PALETTE.len() as u32) as usize
}

/// The CSS class of a key's colour (classes are cheaper to update than inline styles).
pub fn key_class(key: Option<&str>) -> &'static str {
    const CLASSES: [&str; 7] = ["k0", "k1", "k2", "k3", "k4", "k5", "k6"];
    key.map_or("knull", |k| CLASSES[key_slot(k)])
}

/// Member colours, by member position.
const MEMBER_COLOURS: &[&str] = &[
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
];

/// A group member's colour, by its position among the members; grey for no member.
pub fn member_colour(g: &GroupView, consumer: Option<&str>) -> &'static str {
    let i = consumer.and_then(|c| {
        g.members
            .iter()
            .position(|m| m.consumer.as_deref() == Some(c))
    });
    i.map_or("#bbbbbb", |i| MEMBER_COLOURS[i % MEMBER_COLOURS.len()])
}

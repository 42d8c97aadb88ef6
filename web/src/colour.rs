//! Colours that carry meaning: a record key's (the same key looks the same in every partition,
//! in the produce form too) and a group member's. Both palettes are Okabe–Ito, distinguishable
//! with the common forms of colour blindness; the CSS key classes (`k0`..`k6`, `knull`) in
//! `style.css` follow `KEY_PALETTE`'s order, and a pattern class (`p0`..`p3`) tells apart keys
//! of the same colour.

use kplay_engine::partitioner::murmur2;
use kplay_engine::snapshot::GroupView;

const KEY_PALETTE: [&str; 7] = [
    "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
];

/// The Okabe–Ito names of `KEY_PALETTE`, for a key's label.
const KEY_COLOUR_NAMES: [&str; 7] = [
    "orange",
    "sky blue",
    "bluish green",
    "yellow",
    "blue",
    "vermillion",
    "reddish purple",
];

/// Each colour comes with four underline patterns (`style.css`: `p0`..`p3`), so 28 keys look
/// different before a look repeats, and a reader who cannot tell two colours apart can still
/// tell the patterns.
const KEY_PATTERNS: [&str; 4] = ["solid", "dashed", "dotted", "double"];

/// A key's colour: the same key always looks the same, in every partition.
pub fn key_colour(key: Option<&str>) -> &'static str {
    match key {
        None => "#9aa0a6",
        Some(k) => KEY_PALETTE[key_slot(k) % KEY_PALETTE.len()],
    }
}

/// The key's look among the 28 (colour, pattern) pairs.
fn key_slot(k: &str) -> usize {
    let looks = (KEY_PALETTE.len() * KEY_PATTERNS.len()) as u32;
    (murmur2(k.as_bytes()) as u32 % looks) as usize
}

/// The CSS classes of a key's colour and pattern (classes are cheaper to update than inline
/// styles): `k{colour} p{pattern}`, colour first.
pub fn key_class(key: Option<&str>) -> &'static str {
    const CLASSES: [&str; 28] = [
        "k0 p0", "k1 p0", "k2 p0", "k3 p0", "k4 p0", "k5 p0", "k6 p0", "k0 p1", "k1 p1", "k2 p1",
        "k3 p1", "k4 p1", "k5 p1", "k6 p1", "k0 p2", "k1 p2", "k2 p2", "k3 p2", "k4 p2", "k5 p2",
        "k6 p2", "k0 p3", "k1 p3", "k2 p3", "k3 p3", "k4 p3", "k5 p3", "k6 p3",
    ];
    key.map_or("knull", |k| CLASSES[key_slot(k)])
}

/// A key's look in words (the colour and the pattern), for those who cannot see colours.
pub fn key_label(key: Option<&str>) -> String {
    match key {
        None => "grey: null key".to_string(),
        Some(k) => {
            let slot = key_slot(k);
            let colour = KEY_COLOUR_NAMES[slot % KEY_PALETTE.len()];
            format!("{colour}, {}", KEY_PATTERNS[slot / KEY_PALETTE.len()])
        }
    }
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

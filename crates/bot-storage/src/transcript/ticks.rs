//! .NET ticks as botbuilder's transcript stores put them in blob names.

use chrono::{DateTime, TimeZone, Utc};

/// Ticks (100 ns since 0001-01-01) at the Unix epoch.
const EPOCH_TICKS: f64 = 621_355_968_000_000_000.0;
const TICKS_PER_MS: f64 = 10_000.0;

/// `(621355968000000000 + unixMillis * 10000).toString(16)`, computed in
/// float64 as botbuilder-js does: near 2^59 a double is exact only to
/// 128 ticks, so computing it in integers would give other names.
pub fn ticks_hex(t: DateTime<Utc>) -> String {
    let ticks = EPOCH_TICKS + (t.timestamp_millis() as f64) * TICKS_PER_MS;
    // An integral double below 2^63: the cast is exact.
    format!("{:x}", ticks as u64)
}

/// The time a ticks value stands for (to the millisecond).
pub fn from_ticks_hex(hex: &str) -> Option<DateTime<Utc>> {
    let ticks = u64::from_str_radix(hex, 16).ok()? as f64;
    let ms = ((ticks - EPOCH_TICKS) / TICKS_PER_MS).round() as i64;
    Utc.timestamp_millis_opt(ms).single()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_match_javascript() {
        // new Date(0) -> 621355968000000000 -> "89f7ff5f7b58000".
        assert_eq!(
            ticks_hex(Utc.timestamp_millis_opt(0).unwrap()),
            "89f7ff5f7b58000"
        );
        // Node 20: (621355968000000000 + new Date("2024-01-02T03:04:05.678Z")
        // .getTime() * 10000).toString(16). The exact integer would end in
        // ...4e0; float64 rounding makes it ...500, and names must match JS.
        let t = DateTime::parse_from_rfc3339("2024-01-02T03:04:05.678Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(ticks_hex(t), "8dc0b3f7b273500");
        let t2 = t + chrono::Duration::milliseconds(1);
        assert_eq!(ticks_hex(t2), "8dc0b3f7b275c00");
        assert_eq!(from_ticks_hex(&ticks_hex(t)), Some(t));
        assert_eq!(from_ticks_hex("not hex"), None);
    }
}

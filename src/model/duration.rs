//! Durations as keelson's own documents write them: `336h`, `1h30m`, `7d`.
//!
//! ```text
//!  "1h30m" ──Duration::parse (once, when the document is read)──► Duration { text, secs: 5400 }
//!                                                                   │
//!        stage gates, maintenance windows, the daemon ◄── secs() ──┘  (text kept for output)
//! ```
//!
//! A `Duration` keeps the text as written, so that a document serializes back to what the
//! user wrote and messages quote it; the seconds are computed once. The JSON Schemas keep
//! describing these fields as strings with [`Duration::PATTERN`], and the loader reports a
//! value that matches the pattern but still does not parse (a number too large) at its
//! position, before the document is turned into model types.
//!
//! Karpenter's own durations (NodePool `expireAfter`, …) are Go durations that also take
//! `Never`; they stay strings in the model and only borrow [`Duration::seconds`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration such as `24h`, `90m` or `7d`, parsed once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Duration {
    text: String,
    secs: u64,
}

/// Why a text is not a [`Duration`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not digits followed by a unit (`s`, `m`, `h`, `d`), one or more times.
    #[error("`{0}` is not a duration such as `24h`, `90m` or `7d`")]
    Malformed(String),
    /// Well-formed but longer than keelson counts (beyond `i64::MAX` seconds), so that
    /// every consumer can add it to a Unix time without overflow.
    #[error("`{0}` is longer than any duration keelson can count")]
    TooLong(String),
}

impl Duration {
    /// The pattern the JSON Schemas give duration fields; [`Duration::parse`] accepts
    /// exactly the texts it matches, up to [`i64::MAX`] seconds.
    pub(crate) const PATTERN: &'static str = r"^([0-9]+(s|m|h|d))+$";

    /// Parse `336h`, `1h30m`, `7d` and the like.
    ///
    /// # Errors
    /// [`DurationError::Malformed`] for anything but digits-and-unit groups,
    /// [`DurationError::TooLong`] past `i64::MAX` seconds.
    pub fn parse(text: &str) -> Result<Duration, DurationError> {
        let secs = count(text)?;
        Ok(Duration {
            text: text.to_string(),
            secs,
        })
    }

    /// The seconds of a duration text, when it is one (for the Karpenter fields that
    /// stay strings).
    pub(crate) fn seconds(text: &str) -> Option<u64> {
        count(text).ok()
    }

    /// Length in seconds.
    pub fn secs(&self) -> u64 {
        self.secs
    }

    /// Length in seconds, as the signed Unix-time arithmetic of the daemon and the gates
    /// wants it; lossless, since parsing refuses anything longer.
    pub(crate) fn secs_i64(&self) -> i64 {
        i64::try_from(self.secs).unwrap_or(i64::MAX)
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// The seconds of `text`, or why it has none.
fn count(text: &str) -> Result<u64, DurationError> {
    let malformed = || DurationError::Malformed(text.to_string());
    let too_long = || DurationError::TooLong(text.to_string());
    let mut total: u64 = 0;
    let mut num: Option<u64> = None;
    for c in text.chars() {
        if let Some(d) = c.to_digit(10) {
            num = Some(
                num.unwrap_or(0)
                    .checked_mul(10)
                    .and_then(|n| n.checked_add(u64::from(d)))
                    .ok_or_else(too_long)?,
            );
        } else {
            let unit = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                _ => return Err(malformed()),
            };
            let part = num.take().ok_or_else(malformed)?;
            total = part
                .checked_mul(unit)
                .and_then(|p| total.checked_add(p))
                .ok_or_else(too_long)?;
        }
    }
    if num.is_some() || text.is_empty() {
        return Err(malformed());
    }
    if i64::try_from(total).is_err() {
        return Err(too_long());
    }
    Ok(total)
}

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Duration::parse(s)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Duration::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_count_seconds_and_keep_their_text() {
        let d = Duration::parse("1h30m").unwrap();
        assert_eq!((d.secs(), d.as_str()), (5400, "1h30m"));
        assert_eq!(Duration::seconds("336h"), Some(336 * 3600));
        assert_eq!(Duration::seconds("7d"), Some(7 * 86400));
        assert_eq!(Duration::seconds("90s"), Some(90));
    }

    #[test]
    fn malformed_and_overlong_texts_are_refused() {
        for bad in ["h", "10", "", "1x", "1h 2m", "-1h"] {
            assert_eq!(
                Duration::parse(bad),
                Err(DurationError::Malformed(bad.into())),
                "{bad}"
            );
        }
        for long in [
            "99999999999999999999h",
            "106751991167301d",
            "9223372036854775808s",
        ] {
            assert_eq!(
                Duration::parse(long),
                Err(DurationError::TooLong(long.into())),
                "{long}"
            );
        }
        let max = Duration::parse("9223372036854775807s").unwrap();
        assert_eq!(max.secs_i64(), i64::MAX);
    }

    #[test]
    fn serde_round_trips_the_text() {
        let d: Duration = serde_json::from_str("\"90m\"").unwrap();
        assert_eq!(d.secs(), 5400);
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"90m\"");
        let e = serde_json::from_str::<Duration>("\"soon\"").unwrap_err();
        assert!(e.to_string().contains("`soon` is not a duration"), "{e}");
    }
}

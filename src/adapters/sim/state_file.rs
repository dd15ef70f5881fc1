//! Reading the simulator's state file: checked, then read straight into [`SimState`].
//!
//! ```text
//!  bytes ──pass 1: syntax + duplicate keys + format/version (no values kept)──► Header
//!        ──pass 2: serde_json::from_slice::<SimState>──────────────────────────► SimState
//! ```
//!
//! serde_json keeps the last of two equal keys silently, and a state file with two
//! entries for one cluster is damaged, not a choice to make for the user; so the first
//! pass looks at every object's keys. It keeps no values: building a `serde_json::Value`
//! of the whole file first and converting it afterwards held a tree of several times the
//! file's size (a 7.4 MB state of 1,000 clusters) and took most of a no-op plan's time.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::{SimError, SimState, STATE_FORMAT, STATE_VERSION};

/// The state file at `path` (for messages), as `bytes`.
///
/// # Errors
/// [`SimError::Corrupt`] for bad JSON, a duplicate key or a value of the wrong shape
/// (with its line and column); [`SimError::Foreign`] for JSON that is not a keelson
/// state of this version.
pub(super) fn parse_state(path: &str, bytes: &[u8]) -> Result<SimState, SimError> {
    let corrupt = |e: serde_json::Error| SimError::Corrupt {
        path: path.to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    };
    let header = serde_json::from_slice::<Header>(bytes).map_err(corrupt)?;
    let format = header.format.unwrap_or_default();
    let version = header.version.unwrap_or(0);
    if format != STATE_FORMAT || version != u64::from(STATE_VERSION) {
        return Err(SimError::Foreign {
            path: path.to_string(),
            found: format,
            version,
        });
    }
    serde_json::from_slice::<SimState>(bytes).map_err(corrupt)
}

/// What the first pass keeps: the top level's `format` and `version` when they are a
/// string and an unsigned number (anything else reads as foreign).
#[derive(Debug, Default)]
struct Header {
    format: Option<String>,
    version: Option<u64>,
}

/// The top-level keys the first pass keeps.
enum Field {
    Format,
    Version,
    Other,
}

impl<'de> de::Deserialize<'de> for Header {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Header, D::Error> {
        struct Top;
        impl<'de> Visitor<'de> for Top {
            type Value = Header;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header, A::Error> {
                let mut header = Header::default();
                let mut seen = Keys::default();
                while let Some(k) = map.next_key::<Key<'de>>()? {
                    let field = match k.0.as_ref() {
                        "format" => Field::Format,
                        "version" => Field::Version,
                        _ => Field::Other,
                    };
                    // Checked before the value is read, so that the error names the
                    // key's line.
                    seen.insert(k)?;
                    match field {
                        Field::Format => {
                            header.format = match map.next_value::<Scalar>()?.0 {
                                Some(Plain::Str(s)) => Some(s),
                                _ => None,
                            };
                        }
                        Field::Version => {
                            header.version = match map.next_value::<Scalar>()?.0 {
                                Some(Plain::Num(n)) => Some(n),
                                _ => None,
                            };
                        }
                        Field::Other => map.next_value_seed(Unique)?,
                    }
                }
                Ok(header)
            }
            // Any other JSON value is no state file: read it through (for syntax) and
            // let the format check call it foreign.
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Header, A::Error> {
                Unique.visit_seq(seq)?;
                Ok(Header::default())
            }
            fn visit_bool<E>(self, _: bool) -> Result<Header, E> {
                Ok(Header::default())
            }
            fn visit_i64<E>(self, _: i64) -> Result<Header, E> {
                Ok(Header::default())
            }
            fn visit_u64<E>(self, _: u64) -> Result<Header, E> {
                Ok(Header::default())
            }
            fn visit_f64<E>(self, _: f64) -> Result<Header, E> {
                Ok(Header::default())
            }
            fn visit_str<E>(self, _: &str) -> Result<Header, E> {
                Ok(Header::default())
            }
            fn visit_unit<E>(self) -> Result<Header, E> {
                Ok(Header::default())
            }
        }
        d.deserialize_any(Top)
    }
}

/// A key as read: borrowed from the input unless it holds escapes (serde's own
/// `Cow<str>` always copies).
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Key<'de>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Objects with more keys than this are checked through a hash set; smaller ones (nearly
/// all) by comparing with each earlier key, which costs no allocation per key.
const SMALL_OBJECT: usize = 16;

/// The keys of one object seen so far.
#[derive(Default)]
struct Keys<'de> {
    small: Vec<Cow<'de, str>>,
    large: HashSet<Cow<'de, str>>,
}

impl<'de> Keys<'de> {
    fn insert<E: de::Error>(&mut self, Key(k): Key<'de>) -> Result<(), E> {
        let seen = if self.large.is_empty() {
            self.small.contains(&k)
        } else {
            self.large.contains(k.as_ref())
        };
        if seen {
            return Err(E::custom(format!("duplicate key `{k}`")));
        }
        if self.large.is_empty() && self.small.len() < SMALL_OBJECT {
            self.small.push(k);
        } else {
            self.large.extend(self.small.drain(..));
            self.large.insert(k);
        }
        Ok(())
    }
}

/// A string or an unsigned number, when the value is one; otherwise read through.
struct Scalar(Option<Plain>);

enum Plain {
    Str(String),
    Num(u64),
}

impl<'de> de::Deserialize<'de> for Scalar {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(Some(Plain::Num(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(Some(Plain::Str(v.to_string()))))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_unit<E>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Scalar, A::Error> {
                Unique.visit_seq(seq)?;
                Ok(Scalar(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scalar, A::Error> {
                Unique.visit_map(map)?;
                Ok(Scalar(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// Reads any value through, keeping nothing, and fails on an object with a key twice
/// (serde's `IgnoredAny` skips the same way but does not look at keys).
#[derive(Clone, Copy)]
struct Unique;

impl<'de> DeserializeSeed<'de> for Unique {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unique {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Unique)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = Keys::default();
        while let Some(k) = map.next_key::<Key<'de>>()? {
            seen.insert(k)?;
            map.next_value_seed(Unique)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reading this module replaced, kept as the reference: a whole
    /// `serde_json::Value` first, every object's keys checked while it is built, converted
    /// to the state afterwards.
    struct UniqueKeys(serde_json::Value);

    impl<'de> serde::Deserialize<'de> for UniqueKeys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = UniqueKeys;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a JSON value")
                }
                fn visit_bool<E>(self, v: bool) -> Result<UniqueKeys, E> {
                    Ok(UniqueKeys(v.into()))
                }
                fn visit_i64<E>(self, v: i64) -> Result<UniqueKeys, E> {
                    Ok(UniqueKeys(v.into()))
                }
                fn visit_u64<E>(self, v: u64) -> Result<UniqueKeys, E> {
                    Ok(UniqueKeys(v.into()))
                }
                fn visit_f64<E>(self, v: f64) -> Result<UniqueKeys, E> {
                    Ok(UniqueKeys(v.into()))
                }
                fn visit_str<E>(self, v: &str) -> Result<UniqueKeys, E> {
                    Ok(UniqueKeys(v.into()))
                }
                fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
                    Ok(UniqueKeys(serde_json::Value::Null))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
                    let mut items = Vec::new();
                    while let Some(UniqueKeys(v)) = seq.next_element()? {
                        items.push(v);
                    }
                    Ok(UniqueKeys(serde_json::Value::Array(items)))
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
                    let mut out = serde_json::Map::new();
                    while let Some(k) = map.next_key::<String>()? {
                        let UniqueKeys(v) = map.next_value()?;
                        if out.contains_key(&k) {
                            return Err(de::Error::custom(format!("duplicate key `{k}`")));
                        }
                        out.insert(k, v);
                    }
                    Ok(UniqueKeys(serde_json::Value::Object(out)))
                }
            }
            d.deserialize_any(V)
        }
    }

    fn parse_via_value(bytes: &[u8]) -> Result<SimState, String> {
        let value = serde_json::from_slice::<UniqueKeys>(bytes)
            .map_err(|e| e.to_string())?
            .0;
        if value.get("format").and_then(|f| f.as_str()) != Some(STATE_FORMAT)
            || value.get("version").and_then(serde_json::Value::as_u64)
                != Some(u64::from(STATE_VERSION))
        {
            return Err("foreign".into());
        }
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    /// The state `keelson sim seed --version 1.31` wrote for `examples/upgrade` (three
    /// clusters with add-ons, node groups, Kubernetes objects and a version history),
    /// kept pretty-printed in tests/fixtures so that the tests below can edit single
    /// keys. A change of the state format makes every test here fail as foreign: seed it
    /// again (`KEELSON_TODAY=2026-11-23 keelson sim seed --repo examples/upgrade --state
    /// FILE --version 1.31`) and pretty-print it over the file.
    fn state_text() -> String {
        include_str!("../../../tests/fixtures/sim-seeded-upgrade.json").to_string()
    }

    #[test]
    fn the_direct_read_gives_the_state_the_value_read_gave() {
        let text = state_text();
        let direct = parse_state("s.json", text.as_bytes()).unwrap();
        let via_value = parse_via_value(text.as_bytes()).unwrap();
        assert_eq!(direct, via_value);
        assert_eq!(direct.clusters.len(), 3);
        assert!(direct.clusters.values().all(|c| !c.addons.is_empty()));
    }

    #[test]
    fn a_duplicate_key_at_any_depth_is_corrupt_with_its_line() {
        let text = state_text();
        for (needle, with) in [
            (
                "\"clusters\": {",
                "\"clusters\": {\n    \"prod-use1\": {\"ghost\": true},",
            ),
            (
                "\"version\": \"1.31\"",
                "\"version\": \"1.31\", \"version\": \"1.31\"",
            ),
            ("\"format\":", "\"format\": \"keelson-sim\",\n  \"format\":"),
            ("\"kind\": \"", "\"kind\": \"x\", \"kind\": \""),
        ] {
            assert!(text.contains(needle), "{needle}");
            let bad = text.replacen(needle, with, 1);
            let e = parse_state("s.json", bad.as_bytes()).unwrap_err();
            let SimError::Corrupt { line, message, .. } = &e else {
                panic!("{needle}: {e}");
            };
            assert!(message.contains("duplicate key"), "{message}");
            assert!(*line > 1, "{needle}: {e}");
            assert!(parse_via_value(bad.as_bytes()).is_err(), "{needle}");
        }
        // Escaped keys are compared by their text: `"\u0063"` is `c`.
        let bad = text.replacen("\"prod-use1\": {", "\"\\u0063\": {}, \"c\": {", 1);
        assert!(matches!(
            parse_state("s.json", bad.as_bytes()),
            Err(SimError::Corrupt { .. })
        ));
    }

    #[test]
    fn foreign_and_malformed_files_are_told_apart() {
        for text in [
            "{\"terraform_version\": \"1.9.0\"}",
            "[1, 2]",
            "\"keelson-sim\"",
            "{\"format\": \"keelson-sim\", \"version\": 2}",
            "{\"format\": \"keelson-sim\", \"version\": \"1\"}",
            "{\"format\": [\"keelson-sim\"], \"version\": 1}",
        ] {
            let e = parse_state("s.json", text.as_bytes()).unwrap_err();
            assert!(matches!(e, SimError::Foreign { .. }), "{text}: {e}");
        }
        for text in [
            "{\"format\": \"keelson-sim\", \"version\": 1, \"now\": ",
            "{\"format\": \"keelson-sim\", \"version\": 1, \"now\": \"x\"}",
            "{\"format\": \"keelson-sim\", \"version\": 1} trailing",
            "",
        ] {
            let e = parse_state("s.json", text.as_bytes()).unwrap_err();
            assert!(matches!(e, SimError::Corrupt { .. }), "{text}: {e}");
        }
    }
}

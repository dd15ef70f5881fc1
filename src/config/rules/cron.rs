//! The cron expressions Karpenter reads for disruption budgets: `cron.ParseStandard` of
//! github.com/robfig/cron/v3 (Karpenter v1.14.1 `pkg/apis/v1/nodepool.go`,
//! `Budget.IsActive`). The CRD's pattern only asks for five fields or a descriptor, so a
//! schedule can pass the API server and still fail here, and Karpenter then treats the
//! budget as allowing no disruption at all ("fail closed").
//!
//! ```text
//!  "0 9 * * mon-fri" ──fields──► minute hour dom month dow ──each: a,b-c,*/n──► Ok | Err(why)
//! ```

/// One cron field: its bounds and, for months and weekdays, its names.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MONTHS: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    Field {
        name: "day of month",
        min: 1,
        max: 31,
        names: &[],
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: MONTHS,
    },
    Field {
        name: "day of week",
        min: 0,
        max: 6,
        names: DAYS,
    },
];

/// The descriptors `ParseStandard` takes (`@every` is left out: the CRD's pattern does
/// not let it through).
const DESCRIPTORS: &[&str] = &[
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

/// A non-negative integer as Go's `strconv.Atoi` reads it (a leading `+` allowed).
fn number(s: &str) -> Result<u32, String> {
    s.parse::<u32>()
        .map_err(|_| format!("`{s}` is not a non-negative number"))
}

fn value(s: &str, f: &Field) -> Result<u32, String> {
    let lower = s.to_ascii_lowercase();
    match f.names.iter().position(|n| *n == lower) {
        // Month names count from 1 (jan), weekday names from 0 (sun).
        Some(i) => Ok(u32::try_from(i).unwrap_or(0) + f.min),
        None => number(s),
    }
}

/// One comma-separated part of a field: `*`, `?`, `a`, `a-b`, each with an optional `/n`.
fn range(expr: &str, f: &Field) -> Result<(), String> {
    let mut slash = expr.split('/');
    let bounds = slash.next().unwrap_or_default();
    let step = slash.next();
    if slash.next().is_some() {
        return Err(format!("too many slashes in `{expr}` ({})", f.name));
    }
    let mut hyphen = bounds.split('-');
    let first = hyphen.next().unwrap_or_default();
    let (start, mut end, single) = if first == "*" || first == "?" {
        (f.min, f.max, false)
    } else {
        let start = value(first, f)?;
        match (hyphen.next(), hyphen.next()) {
            (None, _) => (start, start, true),
            (Some(hi), None) => (start, value(hi, f)?, false),
            (Some(_), Some(_)) => return Err(format!("too many hyphens in `{expr}` ({})", f.name)),
        }
    };
    if let Some(step) = step {
        if number(step)? == 0 {
            return Err(format!(
                "the step in `{expr}` ({}) must be positive",
                f.name
            ));
        }
        if single {
            end = f.max;
        }
    }
    if start < f.min || end > f.max {
        return Err(format!(
            "`{expr}` is outside {}-{} ({})",
            f.min, f.max, f.name
        ));
    }
    if start > end {
        return Err(format!("`{expr}` starts after it ends ({})", f.name));
    }
    Ok(())
}

/// Whether robfig/cron's `ParseStandard` reads `spec`; `Err` says why not.
pub(crate) fn parse_standard(spec: &str) -> Result<(), String> {
    let spec = spec.trim();
    if spec.starts_with('@') {
        return if DESCRIPTORS.contains(&spec) {
            Ok(())
        } else {
            Err(format!("unknown descriptor `{spec}`"))
        };
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != FIELDS.len() {
        return Err(format!(
            "expected 5 fields (minute hour day-of-month month day-of-week), found {}",
            fields.len()
        ));
    }
    for (text, f) in fields.iter().zip(FIELDS.iter()) {
        for part in text.split(',') {
            range(part, f)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_robfig_cron_reads() {
        for ok in [
            "0 9 * * mon-fri",
            "@daily",
            "*/15 0-6 1,15 JAN-mar 0",
            "0 0 ? * sun",
            "5/10 * * * *",
            "0 22 * * 1-5",
            "59 23 31 12 6",
        ] {
            assert_eq!(parse_standard(ok), Ok(()), "{ok}");
        }
        for bad in [
            "daily",
            "@dailyish",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "* * * * 7",
            "* * * * funday",
            "*/0 * * * *",
            "5-1 * * * *",
            "1-2-3 * * * *",
            "1/2/3 * * * *",
            "a b c d e",
            "* * * * * *",
            "1,,2 * * * *",
        ] {
            assert!(parse_standard(bad).is_err(), "{bad}");
        }
    }
}

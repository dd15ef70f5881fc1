//! Fault injection for rehearsals and tests: EKS calls to the simulator fail the way the
//! real API fails under load, on a seeded schedule, so that retries, the daemon's requeue
//! with backoff and the executor's idempotency are exercised end to end.
//!
//! ```text
//!  KEELSON_SIM_FAULTS="seed=7,throttle=0.1,5xx=0.05,timeout=0.05,calls=writes,burst=CreateNodegroup:8"
//!        │ parsed once per process (the schedule runs on across the daemon's syncs)
//!        ▼
//!  Instrumented::run(op) ──Faults::decide(op, write)──► Pass        → the call
//!                                                   ├─► Reject(e)   → e, the call never made
//!                                                   └─► LoseReply   → the call made, then a timeout
//! ```
//!
//! A throttle (`ThrottlingException`) and a 5xx (`ServerException`, 503) reject the call
//! before it reaches the simulator. A timeout on a write is the hard case: the request
//! was carried out and only the answer is lost, so a retry must not create twice (the
//! executor re-sends the same clientRequestToken); a timeout on a read is just an error.
//! `burst=OP:N` fails the first N calls of operation OP with throttling, more than the
//! executor's own retries, so that an apply stops and the daemon requeues it.
//! `lose=OP:N` carries out the first N calls of OP and loses their answers (a timeout),
//! the case where a retry could create twice.
//! `calls=writes` (or `reads`) limits the rates to calls that change (or only read)
//! something; the default is every call. Reads have no retry of their own above the SDK
//! (a failed read fails the sync, which the daemon requeues with backoff), so a read
//! rate much above 1% keeps a fleet of a hundred reads per sync from ever converging.
//! Only the simulator target takes faults; against AWS the variable is refused.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

use crate::ports::ApiError;

/// The environment variable holding the fault schedule.
pub const FAULTS_ENV: &str = "KEELSON_SIM_FAULTS";

/// What happens to one call.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// The call goes through.
    Pass,
    /// The call is refused with this error and never reaches the API.
    Reject(ApiError),
    /// The call is carried out, then its answer is lost (a timeout).
    LoseReply(ApiError),
}

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultSpec {
    /// Seed of the pseudo-random sequence.
    pub seed: u64,
    /// Probability that a call is throttled.
    pub throttle: f64,
    /// Probability that a call gets a 5xx.
    pub server_error: f64,
    /// Probability that a call times out.
    pub timeout: f64,
    /// Operation → how many of its first calls are throttled.
    pub bursts: BTreeMap<String, u64>,
    /// Operation → how many of its first calls are carried out with their answer lost.
    pub lost: BTreeMap<String, u64>,
    /// Which calls the rates apply to.
    pub calls: Calls,
}

/// Which calls a schedule's rates apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Calls {
    /// Every call.
    #[default]
    All,
    /// Calls that change something.
    Writes,
    /// Calls that only read.
    Reads,
}

/// A malformed schedule.
#[derive(Debug, thiserror::Error)]
#[error("{FAULTS_ENV}: `{item}` is not understood; write comma-separated seed=N, throttle=P, 5xx=P, timeout=P (P from 0 to 1, at most 1 together), calls=all|writes|reads, burst=Operation:N and lose=Operation:N")]
pub struct FaultSpecError {
    /// The item refused.
    pub item: String,
}

impl FaultSpec {
    /// Parse `seed=7,throttle=0.1,5xx=0.05,timeout=0.05,calls=writes,burst=CreateNodegroup:8`.
    ///
    /// # Errors
    /// [`FaultSpecError`] naming the first item that is not understood.
    pub fn parse(text: &str) -> Result<FaultSpec, FaultSpecError> {
        let mut spec = FaultSpec {
            seed: 1,
            ..FaultSpec::default()
        };
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let bad = || FaultSpecError {
                item: item.chars().take(80).collect(),
            };
            let (key, value) = item.split_once('=').ok_or_else(bad)?;
            let p = || {
                value
                    .parse::<f64>()
                    .ok()
                    .filter(|p| (0.0..=1.0).contains(p))
                    .ok_or_else(bad)
            };
            match key {
                "seed" => spec.seed = value.parse().map_err(|_| bad())?,
                "throttle" => spec.throttle = p()?,
                "5xx" => spec.server_error = p()?,
                "timeout" => spec.timeout = p()?,
                "calls" => {
                    spec.calls = match value {
                        "all" => Calls::All,
                        "writes" => Calls::Writes,
                        "reads" => Calls::Reads,
                        _ => return Err(bad()),
                    }
                }
                "burst" | "lose" => {
                    let (op, n) = value.split_once(':').ok_or_else(bad)?;
                    let n = n.parse().map_err(|_| bad())?;
                    if op.is_empty() {
                        return Err(bad());
                    }
                    let map = if key == "burst" {
                        &mut spec.bursts
                    } else {
                        &mut spec.lost
                    };
                    map.insert(op.to_string(), n);
                }
                _ => return Err(bad()),
            }
        }
        if spec.throttle + spec.server_error + spec.timeout > 1.0 {
            return Err(FaultSpecError {
                item: text.chars().take(80).collect(),
            });
        }
        Ok(spec)
    }
}

/// A schedule being run: its counters and random sequence.
#[derive(Debug)]
pub struct Faults {
    spec: FaultSpec,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    rng: u64,
    calls: BTreeMap<String, u64>,
}

impl Faults {
    /// Start running `spec`.
    pub fn new(spec: FaultSpec) -> Faults {
        let rng = spec.seed;
        Faults {
            spec,
            state: Mutex::new(State {
                rng,
                calls: BTreeMap::new(),
            }),
        }
    }

    /// The schedule of this process from [`FAULTS_ENV`], parsed once: `None` when unset.
    ///
    /// # Errors
    /// A malformed schedule.
    pub fn from_env() -> Result<Option<&'static Faults>, FaultSpecError> {
        static FAULTS: OnceLock<Option<Faults>> = OnceLock::new();
        if let Some(f) = FAULTS.get() {
            return Ok(f.as_ref());
        }
        let parsed = match std::env::var(FAULTS_ENV) {
            Ok(text) => Some(Faults::new(FaultSpec::parse(&text)?)),
            Err(_) => None,
        };
        Ok(FAULTS.get_or_init(|| parsed).as_ref())
    }

    /// What happens to the next call of `operation`.
    pub fn decide(&self, operation: &str, write: bool) -> Fault {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let n = st.calls.entry(operation.to_string()).or_default();
        *n += 1;
        let n = *n;
        if self.spec.bursts.get(operation).is_some_and(|&b| n <= b) {
            return Fault::Reject(throttled(operation));
        }
        if self.spec.lost.get(operation).is_some_and(|&b| n <= b) {
            return Fault::LoseReply(timed_out(operation));
        }
        let s = &self.spec;
        let applies = match s.calls {
            Calls::All => true,
            Calls::Writes => write,
            Calls::Reads => !write,
        };
        if !applies {
            return Fault::Pass;
        }
        let roll = next_unit(&mut st.rng);
        if roll < s.throttle {
            Fault::Reject(throttled(operation))
        } else if roll < s.throttle + s.server_error {
            Fault::Reject(ApiError::Unavailable(format!(
                "ServerException: Service Unavailable (503, injected): {operation}"
            )))
        } else if roll < s.throttle + s.server_error + s.timeout {
            let e = timed_out(operation);
            if write {
                Fault::LoseReply(e)
            } else {
                Fault::Reject(e)
            }
        } else {
            Fault::Pass
        }
    }
}

fn timed_out(operation: &str) -> ApiError {
    ApiError::Unavailable(format!("timed out (injected): {operation}"))
}

fn throttled(operation: &str) -> ApiError {
    ApiError::Throttled(format!(
        "ThrottlingException: Rate exceeded (injected): {operation}"
    ))
}

/// splitmix64, as a number in [0, 1): reproducible from the seed, no dependency.
fn next_unit(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_parses_and_bad_items_are_named() {
        let s =
            FaultSpec::parse("seed=7, throttle=0.1,5xx=0.05,timeout=0.2,burst=CreateNodegroup:8")
                .unwrap();
        assert_eq!(
            (s.seed, s.throttle, s.server_error, s.timeout),
            (7, 0.1, 0.05, 0.2)
        );
        assert_eq!(s.bursts["CreateNodegroup"], 8);
        for bad in [
            "throttle=2",
            "nope=1",
            "burst=X",
            "seed=-1",
            "throttle=0.6,5xx=0.6",
            "calls=some",
        ] {
            assert!(FaultSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bursts_come_first_and_rates_follow_the_seed() {
        let f = Faults::new(FaultSpec::parse("burst=CreateAddon:2").unwrap());
        assert!(matches!(
            f.decide("CreateAddon", true),
            Fault::Reject(ApiError::Throttled(_))
        ));
        assert!(matches!(
            f.decide("CreateAddon", true),
            Fault::Reject(ApiError::Throttled(_))
        ));
        assert_eq!(f.decide("CreateAddon", true), Fault::Pass);
        let f = Faults::new(FaultSpec::parse("lose=CreateAddon:1").unwrap());
        assert!(matches!(f.decide("CreateAddon", true), Fault::LoseReply(_)));
        assert_eq!(f.decide("CreateAddon", true), Fault::Pass);

        let run = || {
            let f =
                Faults::new(FaultSpec::parse("seed=3,throttle=0.2,5xx=0.2,timeout=0.2").unwrap());
            (0..1000)
                .map(|_| f.decide("CreateNodegroup", true))
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run(), "the same seed, the same faults");
        let lost = a
            .iter()
            .filter(|f| matches!(f, Fault::LoseReply(_)))
            .count();
        let passed = a.iter().filter(|f| **f == Fault::Pass).count();
        assert!((150..250).contains(&lost), "{lost}");
        assert!((330..470).contains(&passed), "{passed}");
        // A read that times out is only an error: nothing was done.
        let f = Faults::new(FaultSpec::parse("timeout=1").unwrap());
        assert!(matches!(
            f.decide("DescribeCluster", false),
            Fault::Reject(_)
        ));
        let f = Faults::new(FaultSpec::parse("timeout=1,calls=writes").unwrap());
        assert_eq!(f.decide("DescribeCluster", false), Fault::Pass);
        assert!(matches!(f.decide("CreateAddon", true), Fault::LoseReply(_)));
    }
}

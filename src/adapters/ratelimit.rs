//! A client-side limit on the request rate to one remote API (keelson uses one per AWS
//! account and region for EKS): a token bucket whose rate adapts to throttling answers,
//! with two priorities so that apply's writes and waits go before background reads.
//!
//! ```text
//!  caller ─► Limiter::acquire(priority) ─► Bucket::try_take(now, priority)
//!                 │  Ok: send now           Err(wait): sleep `wait`, ask again
//!                 ▼
//!  answer ─► Limiter::answered(throttled?) ─► Bucket::throttled(now): rate × ½ (once per
//!                                             second), then + ceiling/10 per second back
//!                                             up to the configured rate
//! ```
//!
//! [`Bucket`] is the whole policy, free of I/O and clocks: every method takes `now` as the
//! time since an arbitrary origin, so it is tested with plain numbers. [`Limiter`] puts it
//! behind a mutex and sleeps on tokio's clock (paused in tests).
//!
//! Priority: a background request takes a token only while no urgent request is waiting,
//! so a resync's reads never delay an apply's writes or its polling of a running update by
//! more than one token. The task-local [`urgent`] scope marks a whole apply as urgent;
//! a request that changes something is urgent wherever it comes from (the caller says so,
//! see [`Priority::for_request`]).
//!
//! Adaptation is AIMD, as TCP does with its window: the first throttling answer within a
//! second halves the rate (never below [`MIN_RATE`]) and empties the bucket, so the burst
//! that overran the server is not repeated; answers throttled within the same second
//! belong to the same overrun and do not halve it again. The rate then grows back
//! linearly, to the configured ceiling in at most ten seconds; a server that throttles
//! every second holds it at about a tenth of the ceiling.

use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Whose request it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Apply's writes and the waits that poll them: served first.
    Urgent,
    /// Reads of a plan or a resync: served when nothing urgent waits.
    Background,
}

tokio::task_local! {
    static PRIORITY: Priority;
}

/// Run `f` with its requests marked urgent (an apply's steps and waits).
pub async fn urgent<F: Future>(f: F) -> F::Output {
    PRIORITY.scope(Priority::Urgent, f).await
}

impl Priority {
    /// The priority of a request made now from the current task: urgent when it changes
    /// something (`writes`) or runs inside [`urgent`], background otherwise.
    pub fn for_request(writes: bool) -> Priority {
        if writes {
            return Priority::Urgent;
        }
        PRIORITY.try_with(|p| *p).unwrap_or(Priority::Background)
    }
}

/// The lowest rate a throttled bucket falls to, in requests per second.
pub const MIN_RATE: f64 = 0.5;
/// After a cut, the rate grows back by this share of the ceiling per second.
const RECOVERY_PER_SEC: f64 = 0.1;
/// Throttled answers within this long of a cut belong to the same overrun.
const CUT_WINDOW: Duration = Duration::from_secs(1);

/// A rate and a burst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateSettings {
    /// Requests per second, sustained.
    pub rate: f64,
    /// Requests that may go at once after a quiet period.
    pub burst: u32,
}

/// The token bucket with its adaptive rate.
#[derive(Debug, Clone)]
pub struct Bucket {
    ceiling: f64,
    burst: f64,
    rate: f64,
    tokens: f64,
    last: Duration,
    /// When the rate was last cut, and the rate it was cut to.
    cut: Option<(Duration, f64)>,
    urgent_waiting: usize,
    throttled: u64,
}

impl Bucket {
    /// A full bucket at `now`.
    pub fn new(settings: RateSettings, now: Duration) -> Bucket {
        let ceiling = settings.rate.max(MIN_RATE);
        let burst = f64::from(settings.burst.max(1));
        Bucket {
            ceiling,
            burst,
            rate: ceiling,
            tokens: burst,
            last: now,
            cut: None,
            urgent_waiting: 0,
            throttled: 0,
        }
    }

    /// The current rate, in requests per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Throttled answers seen so far.
    pub fn throttled_count(&self) -> u64 {
        self.throttled
    }

    fn refill(&mut self, now: Duration) {
        let Some(dt) = now.checked_sub(self.last) else {
            return;
        };
        // Tokens accrue at the rate in force since the last refill (the lower one, as the
        // rate only grows between cuts): never more than the server has allowed.
        self.tokens = (self.tokens + self.rate * dt.as_secs_f64()).min(self.burst);
        self.last = now;
        if let Some((at, cut_to)) = self.cut {
            let since = now.saturating_sub(at).as_secs_f64();
            self.rate = (cut_to + RECOVERY_PER_SEC * self.ceiling * since).min(self.ceiling);
            if self.rate >= self.ceiling {
                self.cut = None;
            }
        }
    }

    /// Take a token for a request of `priority` at `now`, or say how long to wait before
    /// asking again.
    ///
    /// # Errors
    /// The wait, when no token is free for this priority.
    pub fn try_take(&mut self, now: Duration, priority: Priority) -> Result<(), Duration> {
        self.refill(now);
        let next_token = || Duration::from_secs_f64(((1.0 - self.tokens) / self.rate).max(0.001));
        if priority == Priority::Background && self.urgent_waiting > 0 {
            return Err(next_token());
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(next_token())
        }
    }

    /// An urgent request starts or stops waiting.
    pub fn urgent_waiting(&mut self, waiting: bool) {
        if waiting {
            self.urgent_waiting += 1;
        } else {
            self.urgent_waiting = self.urgent_waiting.saturating_sub(1);
        }
    }

    /// The server answered a request with a throttling error at `now`.
    pub fn throttled(&mut self, now: Duration) {
        self.refill(now);
        self.throttled += 1;
        if matches!(self.cut, Some((at, _)) if now.saturating_sub(at) < CUT_WINDOW) {
            return;
        }
        self.rate = (self.rate / 2.0).max(MIN_RATE.min(self.ceiling));
        self.tokens = self.tokens.min(0.0);
        self.cut = Some((now, self.rate));
    }
}

/// A [`Bucket`] shared by the tasks of one process, on tokio's clock.
#[derive(Debug)]
pub struct Limiter {
    bucket: Mutex<Bucket>,
    origin: tokio::time::Instant,
    waited: Mutex<Duration>,
}

/// Marks an urgent request as waiting for as long as it lives (also when its call is
/// dropped while it waits).
struct Waiting<'a>(&'a Limiter);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.with(|b| b.urgent_waiting(false));
    }
}

impl Limiter {
    /// A limiter with a full bucket.
    pub fn new(settings: RateSettings) -> Limiter {
        Limiter {
            bucket: Mutex::new(Bucket::new(settings, Duration::ZERO)),
            origin: tokio::time::Instant::now(),
            waited: Mutex::new(Duration::ZERO),
        }
    }

    fn now(&self) -> Duration {
        tokio::time::Instant::now().saturating_duration_since(self.origin)
    }

    fn with<T>(&self, f: impl FnOnce(&mut Bucket) -> T) -> T {
        f(&mut self.bucket.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Wait for a token for a request of `priority`.
    pub async fn acquire(&self, priority: Priority) {
        let started = tokio::time::Instant::now();
        let _waiting = (priority == Priority::Urgent).then(|| {
            self.with(|b| b.urgent_waiting(true));
            Waiting(self)
        });
        loop {
            let now = self.now();
            match self.with(|b| b.try_take(now, priority)) {
                Ok(()) => break,
                Err(wait) => tokio::time::sleep(wait).await,
            }
        }
        let waited = started.elapsed();
        if !waited.is_zero() {
            *self.waited.lock().unwrap_or_else(PoisonError::into_inner) += waited;
        }
    }

    /// The answer to a request that had a token: a throttling error slows the bucket.
    pub fn answered(&self, throttled: bool) {
        if throttled {
            let now = self.now();
            self.with(|b| b.throttled(now));
        }
    }

    /// The current rate, in requests per second.
    pub fn rate(&self) -> f64 {
        self.with(|b| b.rate())
    }

    /// Throttled answers seen so far.
    pub fn throttled_count(&self) -> u64 {
        self.with(|b| b.throttled_count())
    }

    /// The time requests have spent waiting for a token, summed.
    pub fn waited(&self) -> Duration {
        *self.waited.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn bucket(rate: f64, burst: u32) -> Bucket {
        Bucket::new(RateSettings { rate, burst }, Duration::ZERO)
    }

    /// How many requests of `priority` a bucket lets through by `until`, asking as soon as
    /// it says to.
    fn granted_until(b: &mut Bucket, until: f64) -> usize {
        let (mut now, mut n) = (Duration::ZERO, 0);
        while now <= secs(until) {
            match b.try_take(now, Priority::Background) {
                Ok(()) => n += 1,
                Err(wait) => now += wait,
            }
        }
        n
    }

    #[test]
    fn the_burst_goes_at_once_then_the_rate_holds() {
        let mut b = bucket(10.0, 5);
        for _ in 0..5 {
            assert_eq!(b.try_take(Duration::ZERO, Priority::Background), Ok(()));
        }
        let wait = b
            .try_take(Duration::ZERO, Priority::Background)
            .unwrap_err();
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9, "{wait:?}");
        // 5 at once, then 10 per second: 105 by t = 10 s (the first at 0.1 s).
        let mut b = bucket(10.0, 5);
        assert_eq!(granted_until(&mut b, 10.0), 105);
    }

    #[test]
    fn a_quiet_period_refills_no_more_than_the_burst() {
        let mut b = bucket(10.0, 3);
        for _ in 0..3 {
            b.try_take(Duration::ZERO, Priority::Background).unwrap();
        }
        let later = secs(60.0);
        for _ in 0..3 {
            assert_eq!(b.try_take(later, Priority::Background), Ok(()));
        }
        assert!(b.try_take(later, Priority::Background).is_err());
    }

    #[test]
    fn a_throttle_halves_the_rate_once_per_overrun_then_it_recovers_additively() {
        let mut b = bucket(20.0, 10);
        b.throttled(secs(1.0));
        assert_eq!(b.rate(), 10.0);
        // The same overrun: answers to requests already in flight do not halve it again
        // (it has grown back by 2/s per second meanwhile).
        b.throttled(secs(1.5));
        assert_eq!(b.rate(), 11.0);
        assert_eq!(b.throttled_count(), 2);
        // The bucket was emptied: the next request waits for a token at the new rate.
        let wait = b.try_take(secs(1.5), Priority::Background);
        assert!(wait.is_ok(), "0.5 s at 10/s refilled 5 tokens");
        // + 2/s per second (a tenth of the ceiling): 10 + 2 × 2.5 = 15 at t = 3.5 s.
        b.refill(secs(3.5));
        assert!((b.rate() - 15.0).abs() < 1e-9, "{}", b.rate());
        b.refill(secs(30.0));
        assert_eq!(b.rate(), 20.0, "back to the ceiling, never above it");
    }

    #[test]
    fn repeated_overruns_settle_at_a_tenth_of_the_ceiling_and_never_below_the_floor() {
        // One overrun a second: halved, then + 2/s over the second, settles at 2/s.
        let mut b = bucket(20.0, 10);
        for i in 0..40 {
            b.throttled(secs(f64::from(i)));
        }
        assert!((b.rate() - 2.0).abs() < 1e-3, "{}", b.rate());
        let mut slow = bucket(1.0, 1);
        slow.throttled(Duration::ZERO);
        slow.throttled(secs(2.0));
        assert_eq!(slow.rate(), MIN_RATE);
    }

    #[test]
    fn background_requests_wait_while_an_urgent_one_does() {
        let mut b = bucket(10.0, 1);
        b.try_take(Duration::ZERO, Priority::Background).unwrap();
        b.urgent_waiting(true);
        let at = secs(0.1);
        assert!(b.try_take(at, Priority::Background).is_err());
        assert_eq!(b.try_take(at, Priority::Urgent), Ok(()));
        b.urgent_waiting(false);
        assert_eq!(b.try_take(secs(0.2), Priority::Background), Ok(()));
    }

    #[test]
    fn priority_is_urgent_for_writes_and_inside_an_urgent_scope() {
        assert_eq!(Priority::for_request(true), Priority::Urgent);
        assert_eq!(Priority::for_request(false), Priority::Background);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let inside = rt.block_on(urgent(async { Priority::for_request(false) }));
        assert_eq!(inside, Priority::Urgent);
    }

    #[tokio::test(start_paused = true)]
    async fn the_limiter_paces_requests_on_the_clock() {
        let l = Limiter::new(RateSettings {
            rate: 10.0,
            burst: 2,
        });
        let start = tokio::time::Instant::now();
        for _ in 0..22 {
            l.acquire(Priority::Background).await;
        }
        // 2 at once, 20 more at 10 per second.
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        assert!(l.waited() >= Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn urgent_requests_overtake_waiting_background_ones() {
        let l = Arc::new(Limiter::new(RateSettings {
            rate: 10.0,
            burst: 1,
        }));
        l.acquire(Priority::Background).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..5 {
            let (l, order) = (l.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                l.acquire(Priority::Background).await;
                order.lock().unwrap().push(format!("read{i}"));
            }));
        }
        tokio::task::yield_now().await;
        let (l2, order2) = (l.clone(), order.clone());
        tasks.push(tokio::spawn(urgent(async move {
            l2.acquire(Priority::for_request(false)).await;
            order2.lock().unwrap().push("wait".to_string());
        })));
        for t in tasks {
            t.await.unwrap();
        }
        let order = order.lock().unwrap();
        assert_eq!(order[0], "wait", "{order:?}");
        assert_eq!(order.len(), 6);
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_answers_slow_the_limiter_down() {
        let l = Limiter::new(RateSettings {
            rate: 10.0,
            burst: 1,
        });
        l.answered(false);
        assert_eq!(l.rate(), 10.0);
        l.answered(true);
        assert_eq!(l.rate(), 5.0);
        assert_eq!(l.throttled_count(), 1);
        let start = tokio::time::Instant::now();
        l.acquire(Priority::Background).await;
        // An empty bucket at 5 per second (and rising): a token in about 0.2 s.
        let took = start.elapsed();
        assert!(
            took > Duration::from_millis(150) && took <= Duration::from_millis(200),
            "{took:?}"
        );
    }
}

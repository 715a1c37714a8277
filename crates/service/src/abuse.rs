//! Keeping abuse cheap (issue 15): sign-ins per certificate are rate-limited, and repeated refusals of
//! anonymous calls (sign-in) from one address are aggregated in the audit log — the first refusal of a
//! kind in a window is recorded as it is, the repeats are counted and written as one record when the
//! window closes — so that a flood of bad sign-ins cannot flood the log. Every success is recorded.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;

use governor::clock::{Clock, DefaultClock};
use governor::{Quota, RateLimiter};
use jiff::Timestamp;
use qoljetim_store::{AuditEntry, Change};
use serde_json::json;

use crate::Service;
use crate::error::{Problem, ServiceError, ServiceResult};

/// The most windows kept in memory; older ones are written out and dropped when it is reached.
const MAX_WINDOWS: usize = 10_000;

/// `[limits]` of abuse: sign-ins per certificate and the audit's aggregation window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbuseConfig {
    /// Sign-ins per certificate per minute (0: unlimited).
    pub sign_ins_per_certificate_per_minute: u32,
    /// Refusals of one kind from one address within this many seconds are one audit record.
    pub refusal_window_seconds: i64,
}

impl Default for AbuseConfig {
    fn default() -> Self {
        AbuseConfig {
            sign_ins_per_certificate_per_minute: 10,
            refusal_window_seconds: 60,
        }
    }
}

type Keyed =
    RateLimiter<String, governor::state::keyed::DefaultKeyedStateStore<String>, DefaultClock>;

/// One address's repeated refusals of one kind.
struct Window {
    started: Timestamp,
    /// The first refusal's entry, the model of the aggregate record.
    first: AuditEntry,
    repeats: u64,
}

/// What the service keeps against abuse.
pub struct AbuseGuard {
    per_certificate: Option<Keyed>,
    windows: Mutex<HashMap<(String, String, String), Window>>,
    window_seconds: i64,
}

impl AbuseGuard {
    pub fn new(config: AbuseConfig) -> Self {
        AbuseGuard {
            per_certificate: NonZeroU32::new(config.sign_ins_per_certificate_per_minute)
                .map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            windows: Mutex::new(HashMap::new()),
            window_seconds: config.refusal_window_seconds.max(1),
        }
    }
}

impl Default for AbuseGuard {
    fn default() -> Self {
        Self::new(AbuseConfig::default())
    }
}

/// The aggregate record of a closed window.
fn aggregate(w: &Window, ended: Timestamp) -> AuditEntry {
    let mut e = w.first.clone();
    e.outcome = format!("{} (repeated)", w.first.outcome);
    e.details = json!({"repeats": w.repeats, "window_started": w.started.to_string(),
        "window_ended": ended.to_string(), "first": w.first.details});
    e
}

impl Service {
    /// Order 270 §11 sign-ins of one certificate: at most the configured number a minute; more are
    /// `429 too-many-requests` with the seconds to wait.
    pub(crate) fn sign_in_allowed(&self, certificate: &str) -> ServiceResult<()> {
        let Some(limiter) = &self.abuse.per_certificate else {
            return Ok(());
        };
        if limiter.len() > MAX_WINDOWS {
            limiter.retain_recent();
        }
        limiter
            .check_key(&certificate.to_owned())
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                ServiceError::new(Problem::TooManyRequests {
                    retry_after: wait.as_secs() + 1,
                })
            })
    }

    /// Whether this anonymous refusal is written now (the first of its window) or only counted; a
    /// window that has closed is written out as one record first.
    pub(crate) async fn refusal_to_record(&self, entry: &AuditEntry) -> ServiceResult<bool> {
        let now = self.clock.now();
        let key = (
            entry.ip.clone(),
            entry.action.clone(),
            entry.outcome.clone(),
        );
        let closed = {
            let mut windows = self
                .abuse
                .windows
                .lock()
                .map_err(|_| ServiceError::internal("the refusal windows' lock is poisoned"))?;
            let window_us = self.abuse.window_seconds * 1_000_000;
            match windows.get_mut(&key) {
                Some(w) if now.as_microsecond() - w.started.as_microsecond() < window_us => {
                    w.repeats += 1;
                    return Ok(false);
                }
                _ => {}
            }
            let mut closed = vec![];
            if let Some(old) = windows.remove(&key)
                && old.repeats > 0
            {
                closed.push(aggregate(&old, now));
            }
            if windows.len() >= MAX_WINDOWS {
                for (_, w) in windows.drain() {
                    if w.repeats > 0 {
                        closed.push(aggregate(&w, now));
                    }
                }
            }
            windows.insert(
                key,
                Window {
                    started: now,
                    first: entry.clone(),
                    repeats: 0,
                },
            );
            closed
        };
        for e in closed {
            self.store
                .commit(Change::None, e)
                .await
                .map_err(ServiceError::store)?;
        }
        Ok(true)
    }

    /// Writes out the windows that have closed (the worker calls it on every run); answers how many
    /// aggregate records it wrote.
    pub async fn flush_refusal_windows(&self) -> ServiceResult<usize> {
        let now = self.clock.now();
        let window_us = self.abuse.window_seconds * 1_000_000;
        let closed: Vec<AuditEntry> = {
            let mut windows = self
                .abuse
                .windows
                .lock()
                .map_err(|_| ServiceError::internal("the refusal windows' lock is poisoned"))?;
            let mut closed = vec![];
            windows.retain(|_, w| {
                let open = now.as_microsecond() - w.started.as_microsecond() < window_us;
                if !open && w.repeats > 0 {
                    closed.push(aggregate(w, now));
                }
                open
            });
            closed
        };
        let n = closed.len();
        for e in closed {
            self.store
                .commit(Change::None, e)
                .await
                .map_err(ServiceError::store)?;
        }
        Ok(n)
    }
}

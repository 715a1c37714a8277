//! The clock every rule reads. Production reads the system time; tests and `qoljetim jobs run-once
//! --at` set it, so that deadlines, expiry and reminders can be checked on any day of the year.

use std::sync::{Arc, RwLock};

use jiff::{SignedDuration, Timestamp};

#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// None: the system time. Some: a time set by a test or an operator, shared by every clone.
    fixed: Option<Arc<RwLock<Timestamp>>>,
}

impl Clock {
    pub fn system() -> Clock {
        Clock { fixed: None }
    }

    /// A clock that stands at `at` until it is set or advanced.
    pub fn fixed(at: Timestamp) -> Clock {
        Clock {
            fixed: Some(Arc::new(RwLock::new(at))),
        }
    }

    pub fn now(&self) -> Timestamp {
        match &self.fixed {
            None => Timestamp::now(),
            Some(t) => match t.read() {
                Ok(g) => *g,
                Err(p) => *p.into_inner(),
            },
        }
    }

    pub fn is_fixed(&self) -> bool {
        self.fixed.is_some()
    }

    /// Sets a fixed clock; a system clock ignores it and returns false.
    pub fn set(&self, at: Timestamp) -> bool {
        match &self.fixed {
            None => false,
            Some(t) => {
                match t.write() {
                    Ok(mut g) => *g = at,
                    Err(p) => *p.into_inner() = at,
                }
                true
            }
        }
    }

    pub fn advance(&self, by: SignedDuration) -> bool {
        let now = self.now();
        self.set(now.checked_add(by).unwrap_or(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_is_shared_by_its_clones_and_moves_only_when_set() {
        let at: Timestamp = "2026-03-15T05:00:00Z".parse().unwrap_or_default();
        let c = Clock::fixed(at);
        let c2 = c.clone();
        assert_eq!(c2.now(), at);
        assert!(c.advance(SignedDuration::from_hours(24)));
        assert_eq!(c2.now().to_string(), "2026-03-16T05:00:00Z");
        let s = Clock::system();
        assert!(!s.set(at));
        assert!(s.now() > at);
    }
}

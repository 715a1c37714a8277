//! Issue 20: the rows every signed-in request reads — its session, its organization, the person's
//! grants — kept in memory, on SQLite only.
//!
//! Why this is exact and not "eventually right": on SQLite one process owns the file (a second
//! `serve` on it is refused), and every change goes through this process's single writer. The writer
//! tells the cache after each commit and *before* it answers the request that made the change, so a
//! request that starts after a change was acknowledged never sees the older row. A read that raced a
//! commit (it read the database before the commit, and would store the older row after it) is not
//! stored: it carries the generation it started under, and the commit moved the generation on.
//!
//! On PostgreSQL several instances may write one database (issue 21), and another instance's commit
//! cannot tell this one's cache; there the cache is off and every read asks the database.
//!
//! One more writer exists on SQLite: a command-line process beside the server (`qoljetim grants
//! revoke`, `org deactivate` …). It tells the server through `ChangeMarker`: after each commit that
//! may change a cached row it appends a byte to `<database>.changed`, and the serving process looks at
//! that file's length before every cached read and starts over when it grew.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::reads::{GrantRow, OrganizationRow, SessionRow};

/// Past this many entries of a kind the cache starts over (a bound, not a tuning knob: the rows are
/// small and re-read at the next request).
const MAX_ENTRIES: usize = 100_000;

#[derive(Default)]
struct Inner {
    /// Moved on by every change that may alter a cached row; a read started under an older
    /// generation is not stored.
    generation: u64,
    sessions: HashMap<String, SessionRow>,
    /// Per session, how many times its activity was recorded (a touch changes one column of one row;
    /// it should not throw away every other entry).
    touches: HashMap<String, u64>,
    organizations: HashMap<String, OrganizationRow>,
    grants_of_person: HashMap<(String, String), Vec<GrantRow>>,
}

impl Inner {
    fn clear(&mut self) {
        self.generation += 1;
        self.sessions.clear();
        self.touches.clear();
        self.organizations.clear();
        self.grants_of_person.clear();
    }

    fn touches_of(&self, session: Option<&str>) -> u64 {
        session
            .and_then(|s| self.touches.get(s).copied())
            .unwrap_or(0)
    }

    /// Keeps what a read that took `t` found — unless something changed since it took it.
    fn keep<K: std::hash::Hash + Eq, V>(
        &mut self,
        t: Ticket,
        session: Option<&str>,
        map: fn(&mut Inner) -> &mut HashMap<K, V>,
        key: K,
        value: V,
    ) {
        if t.generation != self.generation || t.touches != self.touches_of(session) {
            return;
        }
        if map(self).len() >= MAX_ENTRIES {
            self.clear();
            return;
        }
        map(self).insert(key, value);
    }
}

/// What a read saw of the cache before it asked the database.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    generation: u64,
    touches: u64,
}

#[derive(Default)]
pub(crate) struct ReadCache(Mutex<Inner>);

impl ReadCache {
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    pub(crate) fn ticket(&self, session: Option<&str>) -> Ticket {
        self.with(|i| Ticket {
            generation: i.generation,
            touches: i.touches_of(session),
        })
    }

    pub(crate) fn session(&self, token_hash: &str) -> Option<SessionRow> {
        self.with(|i| i.sessions.get(token_hash).cloned())
    }

    pub(crate) fn put_session(&self, t: Ticket, row: &SessionRow) {
        self.with(|i| {
            i.keep(
                t,
                Some(&row.token_hash),
                |i| &mut i.sessions,
                row.token_hash.clone(),
                row.clone(),
            )
        })
    }

    pub(crate) fn organization(&self, bin: &str) -> Option<OrganizationRow> {
        self.with(|i| i.organizations.get(bin).cloned())
    }

    pub(crate) fn put_organization(&self, t: Ticket, row: &OrganizationRow) {
        self.with(|i| {
            i.keep(
                t,
                None,
                |i| &mut i.organizations,
                row.bin.to_string(),
                row.clone(),
            )
        })
    }

    pub(crate) fn grants_of_person(&self, iin: &str, bin: &str) -> Option<Vec<GrantRow>> {
        self.with(|i| {
            i.grants_of_person
                .get(&(iin.to_owned(), bin.to_owned()))
                .cloned()
        })
    }

    pub(crate) fn put_grants_of_person(&self, t: Ticket, iin: &str, bin: &str, rows: &[GrantRow]) {
        self.with(|i| {
            i.keep(
                t,
                None,
                |i| &mut i.grants_of_person,
                (iin.to_owned(), bin.to_owned()),
                rows.to_vec(),
            )
        })
    }

    /// The writer committed a change that may alter any cached row (or raw access to the database
    /// was handed out): everything is read afresh.
    pub(crate) fn changed(&self) {
        self.with(Inner::clear)
    }

    /// The writer recorded activity on a session: its cached row gets the new time, and a read of it
    /// that started before is not stored.
    pub(crate) fn touched(&self, token_hash: &str, at: i64) {
        self.with(|i| {
            if i.touches.len() >= MAX_ENTRIES {
                i.clear();
                return;
            }
            *i.touches.entry(token_hash.to_owned()).or_default() += 1;
            if let Some(s) = i.sessions.get_mut(token_hash) {
                s.last_seen = s.last_seen.max(at);
            }
        })
    }
}

/// The SQLite file's other writers, seen from the serving process (see the module's comment).
pub(crate) struct ChangeMarker {
    path: std::path::PathBuf,
    /// This process serves the file: its cache watches the marker; it does not append to it.
    serving: std::sync::atomic::AtomicBool,
    /// The marker's length when last looked at.
    seen: std::sync::atomic::AtomicU64,
}

impl ChangeMarker {
    pub(crate) fn beside(database: &std::path::Path) -> Self {
        ChangeMarker {
            path: std::path::PathBuf::from(format!("{}.changed", database.display())),
            serving: std::sync::atomic::AtomicBool::new(false),
            seen: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn len(&self) -> u64 {
        std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0)
    }

    /// From now on this process serves the file.
    pub(crate) fn serve(&self) {
        use std::sync::atomic::Ordering::SeqCst;
        self.seen.store(self.len(), SeqCst);
        self.serving.store(true, SeqCst);
    }

    /// A writer that does not serve: after a commit that may change cached rows, tell the server.
    pub(crate) fn announce(&self) {
        use std::io::Write;
        if self.serving.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut f| f.write_all(b"."));
        if let Err(e) = appended {
            tracing::error!(error = %e, file = %self.path.display(),
                "could not tell the server of this change: its cached rows may be stale until it restarts");
        }
    }

    /// The serving process: whether another process changed something since it last looked.
    pub(crate) fn changed_elsewhere(&self) -> bool {
        use std::sync::atomic::Ordering::SeqCst;
        if !self.serving.load(SeqCst) {
            return false;
        }
        let len = self.len();
        self.seen.swap(len, SeqCst) != len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Issue 21: a command beside the server announces its commits; only the serving process listens,
    // and it does not hear itself.
    #[test]
    fn the_server_hears_another_process_commit_and_not_its_own() {
        let db = std::env::temp_dir().join(format!("qoljetim-marker-{}.db", std::process::id()));
        let server = ChangeMarker::beside(&db);
        let command = ChangeMarker::beside(&db);
        let _ = std::fs::remove_file(&server.path);
        assert!(!server.changed_elsewhere(), "not serving: never asks");
        server.serve();
        assert!(!server.changed_elsewhere());
        server.announce();
        assert!(
            !server.changed_elsewhere(),
            "its own commits are told to its cache directly"
        );
        command.announce();
        assert!(server.changed_elsewhere());
        assert!(!server.changed_elsewhere(), "once per change");
        command.announce();
        command.announce();
        assert!(server.changed_elsewhere());
        let _ = std::fs::remove_file(&server.path);
    }

    fn session(hash: &str, last_seen: i64) -> SessionRow {
        SessionRow {
            token_hash: hash.to_owned(),
            iin: qoljetim_domain::Iin::parse("871008401427").unwrap_or_else(|e| panic!("{e}")),
            bin: qoljetim_domain::Bin::parse("940140000385").unwrap_or_else(|e| panic!("{e}")),
            roles: vec![],
            person: serde_json::json!({}),
            created_at: 0,
            expires_at: 10,
            last_seen,
        }
    }

    #[test]
    fn a_read_that_raced_a_change_is_not_kept() {
        let c = ReadCache::default();
        let t = c.ticket(Some("a"));
        c.changed(); // a commit between the read's ticket and its answer
        c.put_session(t, &session("a", 1));
        assert!(c.session("a").is_none());
        let t = c.ticket(Some("a"));
        c.put_session(t, &session("a", 1));
        assert_eq!(c.session("a").map(|s| s.last_seen), Some(1));
        c.changed();
        assert!(c.session("a").is_none(), "a change empties the cache");
    }

    #[test]
    fn a_touch_moves_the_cached_time_and_refuses_an_older_read() {
        let c = ReadCache::default();
        let t = c.ticket(Some("a"));
        c.put_session(t, &session("a", 1));
        let stale = c.ticket(Some("a"));
        c.touched("a", 5);
        assert_eq!(c.session("a").map(|s| s.last_seen), Some(5));
        // A read that started before the touch (and saw last_seen 1) does not overwrite it.
        c.put_session(stale, &session("a", 1));
        assert_eq!(c.session("a").map(|s| s.last_seen), Some(5));
        // A touch of another session leaves this one's entry alone.
        c.touched("b", 9);
        assert_eq!(c.session("a").map(|s| s.last_seen), Some(5));
    }
}
